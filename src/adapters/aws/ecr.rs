//! Amazon ECR: login for the builder (`GetAuthorizationToken`, no AWS CLI), repository checks,
//! and promotion by digest (`BatchGetImage` then `PutImage` with the same manifest and media
//! type: no layer moves).
//!
//! The SDK's standard configuration applies (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`).

use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsError;
use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesError;
use aws_sdk_ecr::operation::put_image::PutImageError;
use aws_sdk_ecr::operation::start_image_scan::StartImageScanError;
use aws_sdk_ecr::types::{ImageIdentifier, ScanStatus};
use aws_sdk_ecr::Client;

pub use crate::adapters::registry::auth::Credentials;
use crate::adapters::registry::{Promotion, MANIFEST_TYPES};
use crate::config::image::is_version_tag;
use crate::core::image::{self, ImageError, Repository};
use crate::core::retention::StoredImage;
use crate::core::scan::{self, Finding, Severity};

/// An ECR call that failed.
#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    /// The repository does not exist.
    #[error("ECR repository {name} does not exist in registry {registry}: create it, or set `create_repository = true` under [image]")]
    NoRepository {
        /// The repository name.
        name: String,
        /// The registry (account) id.
        registry: String,
    },
    /// No image under that tag or digest.
    #[error("{0} does not exist in ECR")]
    NotFound(String),
    /// A tag conflict.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Anything else (credentials, permissions, network).
    #[error("ECR {action} failed: {message}")]
    Sdk {
        /// The operation.
        action: &'static str,
        /// Why, from the SDK.
        message: String,
    },
}

fn sdk<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    action: &'static str,
) -> impl FnOnce(SdkError<E, R>) -> EcrError {
    move |e| EcrError::Sdk {
        action,
        message: crate::adapters::aws::error::reason("ecr", action, &e),
    }
}

/// Where an image's scan is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Done: its findings.
    Complete(Vec<Finding>),
    /// Not done yet, with ECR's description.
    Pending(String),
    /// It cannot complete (unsupported image, failed): why.
    Failed(String),
}

/// An ECR repository with its client.
pub struct Ecr {
    client: Client,
    repository: Repository,
    registry_id: String,
}

impl Ecr {
    /// The adapter for `repository`, which must be an ECR host.
    pub fn new(config: &aws_config::SdkConfig, repository: &Repository) -> Option<Ecr> {
        let (account, _region) = repository.ecr()?;
        Some(Ecr {
            client: Client::new(config),
            repository: repository.clone(),
            registry_id: account,
        })
    }

    /// Docker credentials from `GetAuthorizationToken`.
    pub async fn login(&self) -> Result<Credentials, EcrError> {
        let out = self
            .client
            .get_authorization_token()
            .send()
            .await
            .map_err(sdk("GetAuthorizationToken"))?;
        let auth = out
            .authorization_data()
            .first()
            .and_then(|d| d.authorization_token())
            .ok_or_else(|| EcrError::Sdk {
                action: "GetAuthorizationToken",
                message: "no authorization data in the answer".into(),
            })?
            .to_string();
        Credentials::from_auth(&auth, "ECR GetAuthorizationToken").ok_or_else(|| EcrError::Sdk {
            action: "GetAuthorizationToken",
            message: "the token is not base64 `user:password`".into(),
        })
    }

    /// Check that the repository exists; create it when `create` is set. `true` when created.
    pub async fn ensure_repository(&self, create: bool) -> Result<bool, EcrError> {
        let result = self
            .client
            .describe_repositories()
            .registry_id(&self.registry_id)
            .repository_names(&self.repository.name)
            .send()
            .await;
        match result {
            Ok(_) => Ok(false),
            Err(SdkError::ServiceError(s))
                if matches!(
                    s.err(),
                    DescribeRepositoriesError::RepositoryNotFoundException(_)
                ) =>
            {
                if !create {
                    return Err(EcrError::NoRepository {
                        name: self.repository.name.clone(),
                        registry: self.registry_id.clone(),
                    });
                }
                self.client
                    .create_repository()
                    .registry_id(&self.registry_id)
                    .repository_name(&self.repository.name)
                    .send()
                    .await
                    .map_err(sdk("CreateRepository"))?;
                Ok(true)
            }
            Err(e) => Err(sdk("DescribeRepositories")(e)),
        }
    }

    /// The image under a tag or digest: digest, manifest and media type.
    async fn image(
        &self,
        id: ImageIdentifier,
    ) -> Result<Option<(String, String, String)>, EcrError> {
        let mut request = self
            .client
            .batch_get_image()
            .registry_id(&self.registry_id)
            .repository_name(&self.repository.name)
            .image_ids(id);
        for t in MANIFEST_TYPES {
            request = request.accepted_media_types(*t);
        }
        let out = request.send().await.map_err(sdk("BatchGetImage"))?;
        let Some(image) = out.images().first() else {
            return Ok(None);
        };
        let digest = image
            .image_id()
            .and_then(|i| i.image_digest())
            .map(str::to_string);
        let manifest = image.image_manifest().map(str::to_string);
        match (digest, manifest) {
            (Some(d), Some(m)) => {
                let media_type = image
                    .image_manifest_media_type()
                    .map(str::to_string)
                    .or_else(|| {
                        serde_json::from_str::<serde_json::Value>(&m)
                            .ok()
                            .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
                    })
                    .unwrap_or_else(|| MANIFEST_TYPES[1].to_string());
                Ok(Some((d, m, media_type)))
            }
            _ => Ok(None),
        }
    }

    /// The scan of the image at `digest`: its findings once complete. A scan not started
    /// yet (basic scanning without scan-on-push) is started.
    pub async fn scan(&self, digest: &str) -> Result<Scan, EcrError> {
        let id = ImageIdentifier::builder().image_digest(digest).build();
        let mut findings = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let answer = self
                .client
                .describe_image_scan_findings()
                .registry_id(&self.registry_id)
                .repository_name(&self.repository.name)
                .image_id(id.clone())
                .set_next_token(token.clone())
                .max_results(1000)
                .send()
                .await;
            let out = match answer {
                Ok(out) => out,
                Err(SdkError::ServiceError(s))
                    if matches!(
                        s.err(),
                        DescribeImageScanFindingsError::ScanNotFoundException(_)
                    ) =>
                {
                    return self.start_scan(id).await;
                }
                Err(e) => return Err(sdk("DescribeImageScanFindings")(e)),
            };
            let status = out.image_scan_status();
            let description = status
                .and_then(|s| s.description())
                .unwrap_or_default()
                .to_string();
            match status.and_then(|s| s.status()) {
                Some(ScanStatus::Complete) | Some(ScanStatus::Active) | None => {}
                Some(ScanStatus::InProgress) | Some(ScanStatus::Pending) => {
                    return Ok(Scan::Pending(description))
                }
                Some(other) => {
                    return Ok(Scan::Failed(format!("{} {description}", other.as_str())))
                }
            }
            if let Some(found) = out.image_scan_findings() {
                for f in found.findings() {
                    let attribute = |key: &str| {
                        f.attributes()
                            .iter()
                            .find(|a| a.key() == key)
                            .and_then(|a| a.value())
                    };
                    findings.push(Finding {
                        id: f.name().unwrap_or("unnamed finding").to_string(),
                        severity: Severity::parse(
                            f.severity().map(|s| s.as_str()).unwrap_or_default(),
                        ),
                        package: attribute("package_name")
                            .map(|n| scan::package(n, attribute("package_version"))),
                    });
                }
                for f in found.enhanced_findings() {
                    let details = f.package_vulnerability_details();
                    let package = details
                        .and_then(|d| d.vulnerable_packages().first())
                        .and_then(|p| Some(scan::package(p.name()?, p.version())));
                    findings.push(Finding {
                        id: details
                            .and_then(|d| d.vulnerability_id())
                            .or(f.title())
                            .unwrap_or("unnamed finding")
                            .to_string(),
                        severity: Severity::parse(f.severity().unwrap_or_default()),
                        package,
                    });
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(Scan::Complete(findings));
            }
        }
    }

    async fn start_scan(&self, id: ImageIdentifier) -> Result<Scan, EcrError> {
        match self
            .client
            .start_image_scan()
            .registry_id(&self.registry_id)
            .repository_name(&self.repository.name)
            .image_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(Scan::Pending("scan started".into())),
            // Another run started it first (ECR scans an image once a day).
            Err(SdkError::ServiceError(s))
                if matches!(s.err(), StartImageScanError::LimitExceededException(_)) =>
            {
                Ok(Scan::Pending("scan started by another run".into()))
            }
            Err(e) => Err(sdk("StartImageScan")(e)),
        }
    }

    /// Every image of the repository (`DescribeImages`, all pages).
    pub async fn images(&self) -> Result<Vec<StoredImage>, EcrError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .describe_images()
                .registry_id(&self.registry_id)
                .repository_name(&self.repository.name)
                .set_next_token(token.clone())
                .max_results(1000)
                .send()
                .await
                .map_err(sdk("DescribeImages"))?;
            for d in page.image_details() {
                let Some(digest) = d.image_digest() else {
                    continue;
                };
                out.push(StoredImage {
                    digest: digest.to_string(),
                    tags: d.image_tags().to_vec(),
                    pushed_at: d.image_pushed_at().map(|t| t.secs()),
                });
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Delete the image at `digest`, every tag of it (`BatchDeleteImage`); already gone is
    /// success.
    pub async fn delete(&self, digest: &str) -> Result<(), EcrError> {
        let out = self
            .client
            .batch_delete_image()
            .registry_id(&self.registry_id)
            .repository_name(&self.repository.name)
            .image_ids(ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await
            .map_err(sdk("BatchDeleteImage"))?;
        match out.failures().iter().find(|f| {
            f.failure_code()
                .is_none_or(|c| c.as_str() != "ImageNotFound")
        }) {
            Some(f) => Err(EcrError::Sdk {
                action: "BatchDeleteImage",
                message: format!(
                    "{digest}: {} {}",
                    f.failure_code().map(|c| c.as_str()).unwrap_or_default(),
                    f.failure_reason().unwrap_or_default()
                ),
            }),
            None => Ok(()),
        }
    }

    /// The digest under `tag`, if any.
    pub async fn digest(&self, tag: &str) -> Result<Option<String>, EcrError> {
        let id = ImageIdentifier::builder().image_tag(tag).build();
        Ok(self.image(id).await?.map(|(d, _, _)| d))
    }

    /// Put `tag` on the image at `source` (a tag or a digest) with `PutImage`; the same digest
    /// already there (`ImageAlreadyExistsException`) is success, a version tag at another
    /// digest an error naming both.
    pub async fn promote(&self, source: &str, tag: &str) -> Result<Promotion, EcrError> {
        image::check_tag(tag)?;
        let id = if source.starts_with("sha256:") {
            ImageIdentifier::builder().image_digest(source).build()
        } else {
            ImageIdentifier::builder().image_tag(source).build()
        };
        let (digest, manifest, media_type) = self.image(id).await?.ok_or_else(|| {
            let sep = if source.starts_with("sha256:") {
                '@'
            } else {
                ':'
            };
            EcrError::NotFound(format!("{}{sep}{source}", self.repository.full()))
        })?;
        let conflict = |existing: String| ImageError::TagConflict {
            repository: self.repository.full(),
            tag: tag.to_string(),
            existing,
            wanted: digest.clone(),
        };
        let unchanged = Promotion {
            digest: digest.clone(),
            tag: tag.to_string(),
            changed: false,
        };
        // A version tag never moves: look before writing. Any other tag is written, and ECR
        // answers ImageAlreadyExistsException when it is already on this digest.
        if is_version_tag(tag) {
            match self.digest(tag).await? {
                Some(existing) if existing == digest => return Ok(unchanged),
                Some(existing) => return Err(conflict(existing).into()),
                None => {}
            }
        }
        let result = self
            .client
            .put_image()
            .registry_id(&self.registry_id)
            .repository_name(&self.repository.name)
            .image_manifest(&manifest)
            .image_manifest_media_type(&media_type)
            .image_tag(tag)
            .image_digest(&digest)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Promotion {
                digest,
                tag: tag.to_string(),
                changed: true,
            }),
            Err(SdkError::ServiceError(s))
                if matches!(
                    s.err(),
                    PutImageError::ImageAlreadyExistsException(_)
                        | PutImageError::ImageTagAlreadyExistsException(_)
                ) =>
            {
                let code = match s.err() {
                    PutImageError::ImageAlreadyExistsException(_) => "ImageAlreadyExistsException",
                    _ => "ImageTagAlreadyExistsException",
                };
                tracing::debug!(
                    "ECR PutImage {}:{tag} answered {code}",
                    self.repository.full()
                );
                // Already there, raced, or the repository's tags are immutable: decide by where
                // the tag is.
                match self.digest(tag).await? {
                    Some(existing) if existing == digest => Ok(unchanged),
                    Some(existing) => Err(conflict(existing).into()),
                    None => Err(EcrError::Sdk {
                        action: "PutImage",
                        message: crate::adapters::aws::error::reason_of("ecr", "PutImage", s.err()),
                    }),
                }
            }
            Err(e) => Err(sdk("PutImage")(e)),
        }
    }
}
