//! Where the image of a version comes from for a rollout: the digest recorded by `release image
//! push` in this clone, else the registry's version tag; environment tags put on by digest.

use std::path::{Path, PathBuf};

use crate::adapters::image_record as record;
use crate::app::image::{PublishError, PushTarget};
use crate::config::environ::Environ;
use crate::config::image::ImageConfig;
use crate::config::Config;
use crate::core::image::{self, ImageError, Repository};

/// Why the image of a version cannot be found or tagged.
#[derive(Debug, thiserror::Error)]
pub enum ImageSourceError {
    /// No `[image]` in release.toml.
    #[error("release.toml has no [image] section: deploys need the image repository")]
    NoImageSection,
    /// The configured repository cannot be used.
    #[error(transparent)]
    Repository(#[from] ImageError),
    /// The registry has no image of the version.
    #[error("the registry has no tag {tag}: build and push it first (`release image push --version {version}`)")]
    NotPushed {
        /// The version's tag.
        tag: String,
        /// The version.
        version: String,
    },
    /// The registry could not be asked.
    #[error(transparent)]
    Registry(Box<PublishError>),
}

impl From<PublishError> for ImageSourceError {
    fn from(e: PublishError) -> Self {
        ImageSourceError::Registry(Box::new(e))
    }
}

/// The images of released versions for rollouts: the recorded digest, else the registry's
/// version tag; environment tags put on by digest.
pub struct RegistryImages<'a> {
    git_dir: PathBuf,
    image: Option<ImageConfig>,
    environ: &'a Environ,
    target: std::cell::OnceCell<PushTarget>,
    /// A package image's record key around the version: the package's tag prefix, and
    /// `@NAME` for one of its `images` ([`record::package_key`]); empty for the root's.
    record_key: (String, String),
}

impl<'a> RegistryImages<'a> {
    /// Images of `config`'s `[image]`, records in `git_dir`.
    pub fn new(git_dir: &Path, config: &'a Config, environ: &'a Environ) -> Self {
        Self::of(git_dir, config.image.clone(), environ)
    }

    /// Images of `image` (a package's), records in `git_dir`.
    pub fn of(git_dir: &Path, image: Option<ImageConfig>, environ: &'a Environ) -> Self {
        RegistryImages {
            git_dir: git_dir.to_path_buf(),
            image,
            environ,
            target: std::cell::OnceCell::new(),
            record_key: (String::new(), String::new()),
        }
    }

    /// The images of a package's `image` (`name` `None`) or of one of its `images`, whose
    /// versions are tagged with `tag_prefix`: their digests are recorded under the package's
    /// tag ([`record::package_key`]).
    pub fn of_package(
        git_dir: &Path,
        image: ImageConfig,
        tag_prefix: &str,
        name: Option<&str>,
        environ: &'a Environ,
    ) -> Self {
        let mut images = Self::of(git_dir, Some(image), environ);
        let suffix = record::package_key("", name);
        images.record_key = (tag_prefix.to_string(), suffix);
        images
    }

    /// The key `version`'s image record is kept under.
    fn record_key(&self, version: &str) -> String {
        format!("{}{version}{}", self.record_key.0, self.record_key.1)
    }

    async fn target(&self) -> Result<(&PushTarget, Repository), ImageSourceError> {
        let image = self
            .image
            .as_ref()
            .ok_or(ImageSourceError::NoImageSection)?;
        let repository = Repository::parse(&image.repository)?;
        if let Some(t) = self.target.get() {
            return Ok((t, repository));
        }
        let t = PushTarget::open(image, &repository, self.environ).await?;
        Ok((self.target.get_or_init(|| t), repository))
    }
}

impl RegistryImages<'_> {
    /// The reference and digest recorded for `version` by a push from this clone (`release
    /// image push`, `release cut`), when it is this image's.
    pub fn recorded(&self, version: &str) -> Option<(String, String)> {
        let repository = Repository::parse(&self.image.as_ref()?.repository).ok()?;
        match record::load(&self.git_dir, &self.record_key(version)) {
            Ok(Some(r)) if r.repository == repository.full() => Some((r.reference, r.digest)),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(
                    "the image record of {version} in {} cannot be read ({e}); it is not used",
                    record::dir(&self.git_dir).display()
                );
                None
            }
        }
    }

    pub async fn tagged(
        &self,
        version: &str,
    ) -> Result<Option<(String, String)>, ImageSourceError> {
        let (target, repository) = self.target().await?;
        // `+` is not allowed in a tag: the version's image was pushed under its tag form.
        Ok(target
            .digest(&image::version_tag_of(version))
            .await?
            .map(|digest| (format!("{}@{digest}", repository.full()), digest)))
    }

    pub fn reference(&self, digest: &str) -> Result<String, ImageSourceError> {
        let image = self
            .image
            .as_ref()
            .ok_or(ImageSourceError::NoImageSection)?;
        let repository = Repository::parse(&image.repository)?;
        Ok(format!("{}@{digest}", repository.full()))
    }

    pub async fn tag(&self, digest: &str, tag: &str) -> Result<(), ImageSourceError> {
        let (target, _) = self.target().await?;
        target.promote(digest, tag).await?;
        Ok(())
    }
}
