//! Approvals and the gates a version passes before it may go to an environment.

use super::*;

/// What the gates of an environment judge a version by.
pub(super) struct Gates {
    /// The history of the required environment (empty without one).
    pub(super) required_history: Vec<Record>,
    /// The approvals that count (for the digest judged).
    pub(super) tally: deployment::ApprovalTally,
    /// Who cut the version.
    pub(super) cutters: Vec<String>,
}

impl Gates {
    /// What keeps the version out (empty: nothing).
    pub(super) fn blockers(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
    ) -> Vec<String> {
        deployment::promotion_blockers(env_name, env, version, &self.required_history, &self.tally)
    }
}

impl<'a> Rollout<'a> {
    /// Who cut `version`: recorded by `release cut` (every name of its identity), and the
    /// release tag's tagger.
    pub async fn cutters(&self, version: &str) -> Result<Vec<String>, DeployError> {
        let mut who = (self.tagger)(version);
        // `release cut` records the root's versions only.
        let recorded = match self.package {
            None => self.ledger.release(version).await?,
            Some(_) => None,
        };
        if let Some(info) = recorded {
            who.extend(info.identity.iter().flat_map(Identity::names));
            who.push(info.cut_by);
        }
        Ok(who)
    }

    /// Record who cut `version` (by `release cut`), and fix its digest when the cut pushed one.
    /// A package's release fixes its digest only: who cut it is its tag's tagger, and the
    /// ledger's release records are the root's versions.
    pub async fn record_release(
        &self,
        version: &str,
        digest: Option<String>,
    ) -> Result<(), DeployError> {
        if self.package.is_none() {
            (self.ledger.put_release(&ReleaseRecord {
                version: version.to_string(),
                cut_by: self.by().await,
                identity: Some(self.who().await.identity.clone()),
                digest: digest.clone(),
            }))
            .await?;
        }
        if let Some(digest) = digest {
            let image = self.images.reference(&digest).ok();
            self.fix_digest(version, image.as_deref(), &digest).await?;
        }
        Ok(())
    }

    /// Record `digest` as `version`'s digest if none is yet; refused when another one is.
    pub(super) async fn fix_digest(
        &self,
        version: &str,
        image: Option<&str>,
        digest: &str,
    ) -> Result<(), DeployError> {
        let fixed = (self.ledger.fix_digest(&ledger::ImageDigest {
            version: self.digest_key(version),
            digest: digest.to_string(),
            image: image.map(str::to_string),
            by: self.by().await,
            at: ledger::timestamp(),
        }))
        .await?;
        if fixed.digest != digest {
            return Err(DeployError::DigestMoved {
                version: version.to_string(),
                recorded: fixed.digest,
                source_name: "this run's image".into(),
                found: digest.to_string(),
            });
        }
        Ok(())
    }

    /// What keeps `version` from `env` (empty: nothing).
    pub async fn blockers(
        &self,
        env_name: &str,
        version: &str,
    ) -> Result<Vec<String>, DeployError> {
        let env = self.env(env_name)?;
        Ok(self
            .gates(env_name, env, version)
            .await?
            .blockers(env_name, env, version))
    }

    /// The approvals of `version` for `env` that count for `digest` (unknown: all), and who
    /// cut it.
    pub(super) async fn tally(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
        digest: Option<&str>,
    ) -> Result<(deployment::ApprovalTally, Vec<String>), DeployError> {
        let entries = self.ledger.approval_entries(env_name, version).await?;
        let fixed = self
            .ledger
            .digest(&self.digest_key(version))
            .await?
            .map(|d| d.digest);
        let (counted, ignored) =
            deployment::bound_to_digest(version, &entries.approvals, digest, fixed.as_deref());
        let cutters = self.cutters(version).await?;
        let mut tally = deployment::tally(env_name, &env.rules(), &counted, &cutters);
        tally.ignored.extend(ignored);
        tally.unreadable = entries.unreadable;
        Ok((tally, cutters))
    }

    /// The digest `version` would go to `env` with, as far as the ledger knows (no registry):
    /// the one that completed in the required environment, else its recorded digest.
    pub(super) async fn known_digest(
        &self,
        env: &EnvironmentConfig,
        version: &str,
        required_history: &[Record],
    ) -> Result<Option<String>, DeployError> {
        if env.requires.is_some() {
            return Ok(
                deployment::completed_in(required_history, version).and_then(|r| r.digest.clone())
            );
        }
        Ok(self
            .ledger
            .digest(&self.digest_key(version))
            .await?
            .map(|d| d.digest))
    }

    /// Everything the gates of `env` judge `version` by, read once; approvals are counted
    /// for `digest`, else for the digest the ledger knows.
    pub(super) async fn gates_for(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
        digest: Option<&str>,
    ) -> Result<Gates, DeployError> {
        let required_history = match &env.requires {
            Some(r) => self.ledger.history(r).await?,
            None => Vec::new(),
        };
        let known = match digest {
            Some(d) => Some(d.to_string()),
            None => self.known_digest(env, version, &required_history).await?,
        };
        let (tally, cutters) = self.tally(env_name, env, version, known.as_deref()).await?;
        Ok(Gates {
            required_history,
            tally,
            cutters,
        })
    }

    /// [`Self::gates_for`] the digest the ledger knows.
    pub(super) async fn gates(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
    ) -> Result<Gates, DeployError> {
        self.gates_for(env_name, env, version, None).await
    }

    /// Approve or reject `version` for `env` as the current actor, accepting the risk of the
    /// scan findings `accepted_risks` names (with an approval only).
    pub async fn decide(
        &self,
        env_name: &str,
        version: &str,
        decision: Decision,
        note: Option<String>,
        accepted_risks: Vec<String>,
    ) -> Result<Approval, DeployError> {
        let env = self.env(env_name)?;
        if decision == Decision::Rejected && !accepted_risks.is_empty() {
            return Err(DeployError::NotAllowed(
                "--accept-risk goes with an approval, not a rejection".into(),
            ));
        }
        let who = self.approver(env_name, env, version).await?;
        let approval = Approval {
            version: version.to_string(),
            env: env_name.to_string(),
            by: self.by().await,
            identity: Some(who.clone()),
            at: ledger::timestamp(),
            decision,
            note,
            digest: self.decision_digest(env, version).await?,
            accepted_risks,
        };
        self.ledger.add_approval(&approval).await?;
        Ok(approval)
    }

    /// Who decides on `version` for `env_name`, when they may: a verified identity where the
    /// environment lists approvers, one of them, and not the version's cutter (the rules of
    /// [`deployment::may_approve`]). Approvals, rejections and continues all go through it.
    pub(super) async fn approver(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
    ) -> Result<&Identity, DeployError> {
        let cutters = self.cutters(version).await?;
        let who = &self.who().await.identity;
        if !who.is_verified() && !env.approvers.is_empty() {
            return Err(DeployError::NotAllowed(format!(
                "{} is not a verified identity ({}), and {env_name} lists approvers: {}",
                who.by(),
                who.source.describe(),
                self.who().await.advice()
            )));
        }
        deployment::may_approve(env_name, &env.rules(), who, &cutters)
            .map_err(DeployError::NotAllowed)?;
        Ok(who)
    }

    /// The digest a decision on `version` for `env` is about: the one that completed in the
    /// required environment, else the recorded one, else what `release image push` recorded
    /// here or the registry's version tag. Unknown (`None`) when none can be read: such a
    /// decision counts for the version's first recorded digest only.
    pub(super) async fn decision_digest(
        &self,
        env: &EnvironmentConfig,
        version: &str,
    ) -> Result<Option<String>, DeployError> {
        let required_history = match &env.requires {
            Some(r) => self.ledger.history(r).await?,
            None => Vec::new(),
        };
        if let Some(d) =
            deployment::completed_in(&required_history, version).and_then(|r| r.digest.clone())
        {
            return Ok(Some(d));
        }
        if let Some(d) = self.ledger.digest(&self.digest_key(version)).await? {
            return Ok(Some(d.digest));
        }
        if let Some((_, d)) = self.images.recorded(version) {
            return Ok(Some(d));
        }
        Ok(match self.images.tagged(version).await {
            Ok(found) => found.map(|(_, d)| d),
            Err(why) => {
                tracing::warn!(
                    "cannot read the image of {version} ({why}): the decision counts for the digest {version} is first recorded with"
                );
                None
            }
        })
    }

    /// Whether asking the actor to approve `version` for `env` could unblock a promotion:
    /// the required environment is done, nobody rejected it, approvals are short, and the
    /// actor may approve and has not.
    pub async fn may_approve_now(
        &self,
        env_name: &str,
        version: &str,
    ) -> Result<bool, DeployError> {
        let env = self.env(env_name)?;
        if env.approvals == 0 {
            return Ok(false);
        }
        let gates = self.gates(env_name, env, version).await?;
        Ok(deployment::may_approve_now(
            env_name,
            env,
            version,
            &gates.required_history,
            &gates.tally,
            &gates.cutters,
            &self.who().await.identity,
        ))
    }
}

/// Major releases held for approval (`[bump] major_requires_approval`).
impl Rollout<'_> {
    /// What still holds major release `version` (empty: it may be published), judged against
    /// the authors its hold recorded.
    pub async fn release_blockers(&self, version: &str) -> Result<Vec<String>, DeployError> {
        let rules = self.config.bump.major_rules();
        let authors = self
            .ledger
            .pending_release(version)
            .await?
            .map(|p| p.authors)
            .unwrap_or_default();
        let entries = self
            .ledger
            .approval_entries(release_gate::GATE, version)
            .await?;
        let mut tally = deployment::tally("the release", &rules, &entries.approvals, &authors);
        tally.unreadable = entries.unreadable;
        Ok(release_gate::blockers(version, &rules, &tally))
    }

    /// Hold major release `version`, planned at `commit`, for approval.
    pub async fn hold_release(
        &self,
        version: &str,
        commit: &str,
        authors: Vec<String>,
    ) -> Result<(), DeployError> {
        let pending = ledger::PendingRelease {
            version: version.to_string(),
            commit: commit.to_string(),
            by: self.by().await,
            at: ledger::timestamp(),
            authors,
        };
        Ok(self.ledger.put_pending_release(&pending).await?)
    }

    /// Approve or reject held major release `version` as the current actor, by the rules of
    /// `[bump]`: an approver, verified when approvers are listed, and not one of its authors.
    pub async fn decide_release(
        &self,
        version: &str,
        decision: Decision,
        note: Option<String>,
    ) -> Result<Approval, DeployError> {
        let Some(pending) = self.ledger.pending_release(version).await? else {
            return Err(DeployError::NotAllowed(format!(
                "no major release {version} is waiting for approval: `release ci` holds one when it meets it (with [bump] major_requires_approval), and `release status` lists them"
            )));
        };
        let rules = self.config.bump.major_rules();
        let who = &self.who().await.identity;
        if !who.is_verified() && !rules.approvers.is_empty() {
            return Err(DeployError::NotAllowed(format!(
                "{} is not a verified identity ({}), and [bump] lists major_approvers: {}",
                who.by(),
                who.source.describe(),
                self.who().await.advice()
            )));
        }
        deployment::may_approve("major releases", &rules, who, &pending.authors)
            .map_err(DeployError::NotAllowed)?;
        let approval = Approval {
            version: version.to_string(),
            env: release_gate::GATE.to_string(),
            by: self.by().await,
            identity: Some(who.clone()),
            at: ledger::timestamp(),
            decision,
            note,
            digest: None,
            accepted_risks: Vec::new(),
        };
        self.ledger.add_approval(&approval).await?;
        Ok(approval)
    }
}
