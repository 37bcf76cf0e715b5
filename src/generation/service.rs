//! The [`Generator`]: a [`Request`] checked, its references read, sent when an upstream slot
//! is free, and its images delivered. Holds no transport or MCP state, and takes its client and
//! clock from outside, so tests drive it against a fake API with a fixed time.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use secrecy::SecretString;
use tokio::sync::{Semaphore, SemaphorePermit, TryAcquireError};

use super::references::{self, References};
use super::{Outcome, Progress, Request, ToolError};
use crate::config::{Config, Defaults};
use crate::delivery::{self, DeliveryConfig, Destination, EmbedMode};
use crate::files::AllowedRoots;
use crate::files::provenance::Provenance;
use crate::spend::{ConfirmAbove, Cost, Quote, Spend};
use seedream::{GenerationSpec, ImageRequest, Prepared, Profile, ResponseFormat};

/// Generates images for every caller of the server. Shared by all calls.
#[derive(Debug)]
pub struct Generator {
    client: seedream::Client,
    defaults: Defaults,
    profile: Profile,
    delivery: DeliveryConfig,
    /// Upstream requests in flight; further calls wait for a permit.
    slots: Semaphore,
    max_concurrency: usize,
    /// The time saved files are named after.
    clock: fn() -> SystemTime,
    /// Caps and the ledger of billed calls.
    spend: Spend,
    /// When the person confirms a call first.
    confirm: ConfirmAbove,
}

/// What one caller may use beyond its arguments.
#[derive(Debug, Clone)]
pub struct Access {
    /// The caller's own upstream key (multi-tenant HTTP), used for this call only; `None`
    /// pays with the server's key.
    pub api_key: Option<SecretString>,
    /// Whose spending this is (the tenant's keyed hash), for the ledger and the caps.
    pub caller: String,
    /// Where this caller may read local reference images from.
    pub roots: AllowedRoots,
}

impl Generator {
    /// A generator calling the upstream through `client`, with the settings of `config`.
    /// Creates the output folder when saving is on (see [`DeliveryConfig::new`]).
    pub fn new(client: seedream::Client, config: &Config) -> Generator {
        Generator {
            client,
            defaults: config.defaults.clone(),
            profile: config.profile.clone(),
            delivery: DeliveryConfig::new(config.delivery.clone()),
            slots: Semaphore::new(config.jobs.max_concurrency),
            max_concurrency: config.jobs.max_concurrency,
            clock: SystemTime::now,
            confirm: config.spend.confirm,
            spend: Spend::new(
                config.spend.call,
                config.spend.period,
                config.spend.currency.clone(),
                // Its own small file next to the job store's, so the store can change freely,
                // written only when day or month caps must hold across restarts: each write
                // cost about 0.1 ms of every call, for totals nothing else reads yet.
                match &config.jobs.store {
                    Some(crate::config::StoreAt::File(p)) if !config.spend.period.is_empty() => {
                        Some(p.with_file_name("spend.redb"))
                    }
                    _ => None,
                },
            ),
        }
        .shared_spend(config)
    }

    /// With a shared (Redis) job store, day and month totals are kept there too, so caps count
    /// across instances rather than per instance; the per-call entries stay in memory.
    fn shared_spend(mut self, config: &Config) -> Generator {
        if let Some(crate::config::StoreAt::Redis(url)) = &config.jobs.store {
            match url.client() {
                Ok(client) => self.spend = self.spend.shared_in(client),
                Err(_) => {
                    tracing::warn!(store = %url.shown(), "spend caps count per instance: no Redis client")
                }
            }
        }
        self
    }

    /// Names saved files after `clock`'s time instead of the system's.
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Generator {
        self.clock = clock;
        self
    }

    /// The caps and the ledger, for the usage resource.
    pub fn spend(&self) -> &Spend {
        &self.spend
    }

    /// Every folder the operator allows references to be read from.
    pub fn roots(&self) -> &AllowedRoots {
        &self.delivery.roots
    }

    /// The default folder images are saved to, when saving is on.
    pub fn output_dir(&self) -> Option<&std::path::Path> {
        self.delivery
            .save
            .then_some(self.delivery.output_dir.as_path())
    }

    /// Downloads a generated image again, under the same guards as delivery (no private
    /// addresses, the size cap): for a page that shows it.
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, seedream::DownloadError> {
        self.client.download(url, &self.delivery.download).await
    }

    /// The largest reference image accepted, in bytes.
    pub fn reference_max_bytes(&self) -> usize {
        self.profile.reference_max_bytes
    }

    /// Sends nothing new upstream from now on: calls waiting for a slot, and later calls,
    /// fail with [`ToolError::ShuttingDown`].
    pub fn close(&self) {
        self.slots.close();
    }

    /// What `request` may cost when that is enough to ask the person first, or `None`. A request
    /// that will be refused anyway is not quoted: the refusal says why.
    pub fn quote(&self, request: &Request) -> Option<Quote> {
        if self.confirm.is_off() {
            return None;
        }
        let prepared =
            seedream::prepare(self.spec(request), self.defaults.size, &self.profile).ok()?;
        let rules = prepared.model.rules(&self.profile);
        let spend = &self.spend;
        // Over a per-call cap it will be refused anyway: no point asking the person first.
        if spend
            .call
            .refusal(&prepared.request, &rules, &spend.currency)
            .is_some()
        {
            return None;
        }
        self.confirm
            .quote(&prepared.request, &rules, &spend.currency)
    }

    /// Runs `request` to its delivered images, telling `progress` what it is doing.
    pub async fn generate(
        &self,
        request: Request,
        access: Access,
        progress: &dyn Progress,
    ) -> Result<Outcome, ToolError> {
        let destination = self.destination(&request)?;
        let job = request.options.job.clone();
        let (prepared, mut notes) = self.prepare(request, &access.roots).await?;
        let rules = prepared.model.rules(&self.profile);
        // Held until the cost is known; dropped on any error or cancellation on the way.
        let reservation = self
            .spend
            .reserve(&access.caller, &prepared.request, &rules)
            .await
            .map_err(ToolError::InvalidRequest)?;
        let generation = self
            .send(&prepared.request, access.api_key, progress)
            .await?;
        let cost = Cost::of(
            &rules,
            &generation,
            prepared.request.image.len(),
            &self.spend.currency,
        );
        reservation.settle(&prepared.request.model, &cost).await;
        if !self.spend.period.is_empty() {
            notes.push(self.spend.usage(&access.caller).await.text());
        }
        progress.phase("downloading, saving and previewing the images".to_owned());
        let now = (self.clock)();
        let sent = &prepared.request;
        let mut made = Provenance::new(&sent.prompt, &sent.model, now);
        made.seed = sent.seed;
        made.request_id.clone_from(&generation.request_id);
        made.job = job;
        let delivery = delivery::deliver(
            &self.client,
            &self.delivery,
            &destination,
            &made,
            &generation.response.data,
            now,
        )
        .await;
        Ok(Outcome {
            request: prepared.request,
            generation,
            notes,
            delivery,
            cost,
        })
    }

    /// Where the images go, checked before anything is generated.
    fn destination(&self, request: &Request) -> Result<Destination, ToolError> {
        let o = &request.options;
        // Asking for the image data means wanting the image itself, where it fits.
        let embed = o.embed.unwrap_or(match self.response_format(request) {
            ResponseFormat::B64Json => EmbedMode::Full,
            ResponseFormat::Url => EmbedMode::Preview,
        });
        self.delivery
            .destination(o.filename.as_deref(), o.output_dir.as_deref(), embed)
            .map_err(|e| ToolError::invalid(e.param, e.message))
    }

    fn response_format(&self, request: &Request) -> ResponseFormat {
        request
            .options
            .response_format
            .unwrap_or(self.defaults.response_format)
    }

    /// The request made ready to send, with what was changed on the way. Everything that needs
    /// no reference read or decoded is checked first (prompt, size, model rules, how many
    /// references), with placeholder URLs for the references, so a call that will be refused
    /// anyway costs no decoding.
    async fn prepare(
        &self,
        request: Request,
        roots: &AllowedRoots,
    ) -> Result<(Prepared, Vec<String>), ToolError> {
        let mut spec = self.spec(&request);
        self.check(spec.clone())?;
        let References { wire, mut notes } =
            references::materialize(request.references, roots, &self.profile).await?;
        spec.images = wire;
        let mut prepared = self.check(spec)?;
        notes.append(&mut prepared.notes);
        Ok((prepared, notes))
    }

    /// The upstream's view of `request`, with placeholders for its references.
    fn spec(&self, request: &Request) -> GenerationSpec {
        let o = &request.options;
        GenerationSpec {
            model: o
                .model
                .clone()
                .unwrap_or_else(|| self.defaults.model.clone()),
            prompt: request.prompt.clone(),
            size: o.size,
            aspect_ratio: o.aspect_ratio,
            images: (0..request.references.len())
                .map(|i| format!("https://reference.invalid/{i}"))
                .collect(),
            max_images: request.max_images,
            response_format: self.response_format(request),
            output_format: o.output_format,
            watermark: o.watermark.unwrap_or(self.defaults.watermark),
            seed: o.seed,
            guidance_scale: o.guidance_scale,
            background: o.background,
            prompt_mode: o.prompt_mode,
            web_search: o.web_search.unwrap_or(false),
        }
    }

    fn check(&self, spec: GenerationSpec) -> Result<Prepared, ToolError> {
        seedream::prepare(spec, self.defaults.size, &self.profile)
            .inspect_err(|e| {
                tracing::info!(error = %e, "refused request");
            })
            .map_err(ToolError::from)
    }

    /// Sends `request` once an upstream slot is free, reporting each image as it completes.
    async fn send(
        &self,
        request: &ImageRequest,
        api_key: Option<SecretString>,
        progress: &dyn Progress,
    ) -> Result<seedream::Generation, ToolError> {
        tracing::info!(
            model = %request.model,
            size = ?request.size.map(|s| s.to_string()),
            references = request.image.len(),
            max_outputs = request.max_outputs(),
            prompt_chars = request.prompt.chars().count(),
            "generating"
        );
        let what = match request.max_outputs() {
            1 => format!("generating 1 image with {}", request.model),
            n => format!("generating up to {n} images with {}", request.model),
        };
        let permit = self.slot(progress).await?;
        progress.phase(what.clone());
        progress.sent_upstream();
        let total = request.max_outputs();
        let finished = AtomicU32::new(0);
        let observe = |event: seedream::Event| {
            let seedream::Event::Image { ok, .. } = event;
            let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
            let outcome = if ok { "done" } else { "failed" };
            progress.phase(format!("image {n} of up to {total} {outcome}, {what}"));
        };
        let generated = self
            .client
            .generate_observed(request, &observe, api_key.as_ref())
            .await;
        drop(permit);
        generated.map_err(|error| {
            tracing::warn!(%error, "generation failed");
            match error {
                // The caller's own key was refused: theirs to fix, not the operator's.
                error if error.kind() == seedream::Kind::Auth && api_key.is_some() => {
                    ToolError::CallerKeyRefused
                }
                error => ToolError::Upstream(error),
            }
        })
    }

    /// An upstream slot, waiting for one (and saying so) when all are busy.
    async fn slot(&self, progress: &dyn Progress) -> Result<SemaphorePermit<'_>, ToolError> {
        match self.slots.try_acquire() {
            Ok(permit) => Ok(permit),
            Err(TryAcquireError::Closed) => Err(ToolError::ShuttingDown),
            Err(TryAcquireError::NoPermits) => {
                progress.phase(format!(
                    "queued: all {} upstream slots are busy",
                    self.max_concurrency
                ));
                self.slots
                    .acquire()
                    .await
                    .map_err(|_| ToolError::ShuttingDown)
            }
        }
    }
}

#[cfg(test)]
mod tests;
