//! The registry of factories: config section → backend or plugin instance.
//!
//! The daemon builds one [`Registry`] listing every backend kind and plugin it knows, then
//! instantiates only what the config enables. Tests build a bot with exactly the plugins they
//! need. A command or backend is a value in an explicit list, never a side effect of linking.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::backend::Backend;
use crate::error::ConfigError;
use crate::plugin::Plugin;

/// What a backend factory receives.
#[derive(Clone, Debug)]
pub struct BackendSetup {
    /// The instance name (the id prefix), e.g. `slack` or `slack-corp`.
    pub name: String,
    /// The instance's config section, with `env:`/`secret:` references resolved.
    pub config: toml::Value,
    /// The bot's command prefix, for showing actions as commands to type.
    pub prefix: String,
    /// The backend's own key-value store (`backend/<name>`), for state that must survive a
    /// restart (sync tokens, device ids, caches). In `check-config`, a throwaway one.
    pub store: crate::store::KvStore,
}

/// What a plugin factory receives.
#[derive(Clone, Debug)]
pub struct PluginSetup {
    /// The plugin's config section, with references resolved.
    pub config: toml::Value,
}

type BackendFn = dyn Fn(BackendSetup) -> Result<Arc<dyn Backend>, ConfigError> + Send + Sync;
type PluginFn = dyn Fn(PluginSetup) -> Result<Arc<dyn Plugin>, ConfigError> + Send + Sync;

/// Known backend kinds and plugins, each with a factory. Factories only parse config and
/// build; connecting happens when the bot runs, so `check-config` can use them safely.
#[derive(Default, Clone)]
pub struct Registry {
    backends: BTreeMap<String, Arc<BackendFn>>,
    plugins: BTreeMap<String, Arc<PluginFn>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a backend kind.
    pub fn backend<F>(mut self, kind: &str, factory: F) -> Self
    where
        F: Fn(BackendSetup) -> Result<Arc<dyn Backend>, ConfigError> + Send + Sync + 'static,
    {
        self.backends.insert(kind.to_owned(), Arc::new(factory));
        self
    }

    /// Registers a plugin.
    pub fn plugin<F>(mut self, name: &str, factory: F) -> Self
    where
        F: Fn(PluginSetup) -> Result<Arc<dyn Plugin>, ConfigError> + Send + Sync + 'static,
    {
        self.plugins.insert(name.to_owned(), Arc::new(factory));
        self
    }

    /// The backend kinds.
    pub fn backend_kinds(&self) -> Vec<&str> {
        self.backends.keys().map(String::as_str).collect()
    }

    /// The plugin names.
    pub fn plugin_names(&self) -> Vec<&str> {
        self.plugins.keys().map(String::as_str).collect()
    }

    /// Builds a backend of `kind`.
    ///
    /// # Errors
    /// When the kind is unknown or its config is invalid.
    pub fn build_backend(
        &self,
        kind: &str,
        setup: BackendSetup,
    ) -> Result<Arc<dyn Backend>, ConfigError> {
        let factory = self.backends.get(kind).ok_or_else(|| {
            ConfigError::new(format!(
                "unknown backend kind `{kind}` (known: {})",
                self.backend_kinds().join(", ")
            ))
        })?;
        factory(setup)
    }

    /// Builds plugin `name`.
    ///
    /// # Errors
    /// When the plugin is unknown or its config is invalid.
    pub fn build_plugin(
        &self,
        name: &str,
        setup: PluginSetup,
    ) -> Result<Arc<dyn Plugin>, ConfigError> {
        let factory = self.plugins.get(name).ok_or_else(|| {
            let known = self.plugin_names();
            ConfigError::new(if known.is_empty() {
                format!("unknown plugin `{name}` (this build has no plugins besides the built-in commands)")
            } else {
                format!("unknown plugin `{name}` (known: {})", known.join(", "))
            })
        })?;
        factory(setup)
    }
}
