//! The link engine as the server runs it: the registry and threat lists
//! loaded once, and the policy in force, swapped atomically when a new
//! version takes effect. The pipeline itself is
//! [`kaifang_policy::LinkEngine`]; this adds the display names clients show.
use std::sync::{Arc, RwLock};

use kaifang_links::{Blocklists, Registry};
use kaifang_policy::{
    Context, EngineSettings, LinkEngine, LinkEngineSettings, PenaltyBook, PolicyEngine, PolicyError,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::LinkSettings;
use crate::startup::StartError;

/// One link of a message and what happens to it, with display names.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkDecision {
    /// The decision: `url`, `canonical`, spans (`start`, `end`,
    /// `start_utf16`, `end_utf16`), `platform`, `owner`, `category`,
    /// `domain`, `display_host`, `lists`, `flags`, `treatment`, `preview`,
    /// `policies`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub decision: kaifang_policy::LinkDecision,
    /// The platform's display name.
    pub platform_name: String,
    /// The platform's Chinese display name, when the registry has one
    /// (a Chinese interface falls back to `platform_name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_name_zh: Option<String>,
    /// The owner's display name.
    pub owner_name: String,
}

fn compile(settings: &LinkSettings, text: &str) -> Result<PolicyEngine, PolicyError> {
    let limits = EngineSettings {
        cache_capacity: settings.decision_cache_entries,
        max_policy_bytes: settings.max_policy_bytes,
        ..EngineSettings::default()
    };
    PolicyEngine::with_settings(text, &settings.operator_owner, limits)
}

fn pipeline(
    settings: &LinkSettings,
    engine: Arc<PolicyEngine>,
    registry: &Arc<Registry>,
    blocklists: &Arc<Blocklists>,
    penalties: &Arc<PenaltyBook>,
) -> LinkEngine {
    let limits = LinkEngineSettings {
        max_decided_links: settings.max_links_per_message,
        host_cache_capacity: settings.host_cache_entries,
        ..LinkEngineSettings::default()
    };
    LinkEngine::new(engine, registry.clone(), blocklists.clone(), limits)
        .with_penalties(penalties.clone())
}

/// The policy's view of a conversation and its sender, from the store's.
pub fn context(
    kind: kaifang_store::ConversationKind,
    member_count: i64,
    role: kaifang_store::Role,
) -> Context {
    use kaifang_policy::{ConversationKind, Role};
    Context {
        conversation_kind: match kind {
            kaifang_store::ConversationKind::Direct => ConversationKind::Direct,
            kaifang_store::ConversationKind::Group => ConversationKind::Group,
        },
        member_count: u32::try_from(member_count).unwrap_or(u32::MAX),
        sender_role: match role {
            kaifang_store::Role::Owner => Role::Owner,
            kaifang_store::Role::Admin => Role::Admin,
            kaifang_store::Role::Member => Role::Member,
        },
    }
}

/// The policy in force.
pub struct ActivePolicy {
    /// Version id (0: the start-up policy from the settings).
    pub version: i64,
    /// The Cedar text.
    pub text: String,
    /// The compiled policy.
    pub engine: Arc<PolicyEngine>,
    /// The whole pipeline around it.
    pipeline: LinkEngine,
}

/// The link service.
pub struct Links {
    registry: Arc<Registry>,
    blocklists: Arc<Blocklists>,
    /// Penalties in force, shared by every pipeline this builds, so that a
    /// policy change keeps them; the moderation service replaces them.
    penalties: Arc<PenaltyBook>,
    settings: LinkSettings,
    active: RwLock<Arc<ActivePolicy>>,
}

impl Links {
    /// Loads the registry, threat lists and start-up policy; any error names
    /// the file and what is wrong with it.
    pub fn load(settings: LinkSettings) -> Result<Self, StartError> {
        let mut registry = Registry::builtin()?;
        for path in &settings.registries {
            registry.merge(Registry::from_path(path)?);
        }
        let mut blocklists = Blocklists::new();
        for (name, path) in &settings.blocklists {
            blocklists.load(name, path)?;
        }
        let text = match &settings.policy {
            Some(path) => {
                std::fs::read_to_string(path).map_err(|source| StartError::PolicyFile {
                    path: path.clone(),
                    source,
                })?
            }
            None => kaifang_policy::DEFAULT_POLICY.to_owned(),
        };
        let engine = Arc::new(compile(&settings, &text)?);
        let (registry, blocklists) = (Arc::new(registry), Arc::new(blocklists));
        let penalties = Arc::new(PenaltyBook::new());
        let pipeline = pipeline(
            &settings,
            engine.clone(),
            &registry,
            &blocklists,
            &penalties,
        );
        let active = ActivePolicy {
            version: 0,
            text,
            engine,
            pipeline,
        };
        Ok(Self {
            registry,
            blocklists,
            penalties,
            settings,
            active: RwLock::new(Arc::new(active)),
        })
    }

    /// The policy in force.
    pub fn active(&self) -> Arc<ActivePolicy> {
        match self.active.read() {
            Ok(a) => a.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Compiles `text` for this operator (Cedar's message on error).
    pub fn compile(&self, text: &str) -> Result<PolicyEngine, PolicyError> {
        compile(&self.settings, text)
    }

    /// Puts a compiled policy in force.
    pub fn install(&self, version: i64, text: String, engine: PolicyEngine) {
        self.install_compiled(version, text, Arc::new(engine));
    }

    /// Puts an already shared compiled policy in force.
    pub fn install_compiled(&self, version: i64, text: String, engine: Arc<PolicyEngine>) {
        let next = Arc::new(ActivePolicy {
            version,
            text,
            pipeline: pipeline(
                &self.settings,
                engine.clone(),
                &self.registry,
                &self.blocklists,
                &self.penalties,
            ),
            engine,
        });
        match self.active.write() {
            Ok(mut a) => *a = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The penalties in force, by registrable domain.
    pub fn penalties(&self) -> &Arc<PenaltyBook> {
        &self.penalties
    }

    /// The operator's owner id.
    pub fn operator(&self) -> &str {
        &self.settings.operator_owner
    }

    fn named(&self, decisions: Vec<kaifang_policy::LinkDecision>) -> Vec<LinkDecision> {
        decisions
            .into_iter()
            .map(|decision| {
                let platform = self.registry.platform(&decision.platform);
                let platform_name =
                    platform.map_or_else(|| "Unknown".to_owned(), |p| p.name.clone());
                let platform_name_zh = platform.and_then(|p| p.name_zh.clone());
                let owner_name = self
                    .registry
                    .owner(&decision.owner)
                    .map_or_else(|| "Unknown".to_owned(), |o| o.name.clone());
                LinkDecision {
                    decision,
                    platform_name,
                    platform_name_zh,
                    owner_name,
                }
            })
            .collect()
    }

    /// Decides every link in `text` under the policy in force; also returns
    /// that policy's version.
    pub fn evaluate(&self, text: &str, ctx: &Context) -> (Vec<LinkDecision>, i64) {
        let active = self.active();
        (
            self.named(active.pipeline.evaluate(text, ctx)),
            active.version,
        )
    }

    /// Decides every link in `text` under a candidate policy.
    pub fn evaluate_with(
        &self,
        engine: Arc<PolicyEngine>,
        text: &str,
        ctx: &Context,
    ) -> Vec<LinkDecision> {
        let candidate = pipeline(
            &self.settings,
            engine,
            &self.registry,
            &self.blocklists,
            &self.penalties,
        );
        self.named(candidate.evaluate(text, ctx))
    }
}
