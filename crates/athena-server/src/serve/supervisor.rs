//! The running set of sources: one worker task each, started, stopped and swapped on a reload (SIGHUP under `serve`).
//!
//! A reload reads the config again. Added sources start, removed ones stop (and their metric
//! series go), changed ones (type, keys or schedule) stop and start over on their new config;
//! a stopped worker commits what it handed to the writer first. A config with errors is
//! refused with the error logged, and the running set goes on.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use athena_core::{CancelToken, Schedule, SourceConfig};
use tokio::task::JoinHandle;

use super::cluster::Cluster;
use super::worker::{work, Workers};
use super::Health;

/// One running source.
struct Worker {
    config: SourceConfig,
    schedule: Schedule,
    stop: CancelToken,
    task: JoinHandle<()>,
}

impl Worker {
    fn is_same(&self, config: &SourceConfig, schedule: &Schedule) -> bool {
        self.config.id == config.id
            && self.config.source_type == config.source_type
            && self.config.table() == config.table()
            && &self.schedule == schedule
            && self.config.priority == config.priority
    }
}

/// The ids of `configs`, highest priority first (in config order among equals): the order a
/// worker claims sources in, and keeps them when it hands some back.
fn by_priority(configs: &[SourceConfig]) -> Vec<String> {
    let mut ranked: Vec<&SourceConfig> = configs.iter().collect();
    ranked.sort_by_key(|c| std::cmp::Reverse(c.priority));
    ranked.iter().map(|c| c.id.clone()).collect()
}

/// A source as `/readyz` lists it: its id and priority.
fn listed(config: &SourceConfig) -> (&str, i32) {
    (config.id.as_str(), config.priority)
}

/// Where a reload reads the config from.
pub(super) struct ConfigFile {
    pub path: PathBuf,
    /// The store's file, absolute, which every source is told of (so none reads it as data);
    /// `None` for a PostgreSQL store.
    pub absolute_db: Option<PathBuf>,
}

pub(super) struct Supervisor {
    workers: Arc<Workers>,
    running: Vec<Worker>,
    config_file: ConfigFile,
    /// The process's stop: every worker's token is a child of it, so a stop reaches a worker
    /// even while a reload waits for it.
    cancel: CancelToken,
    /// With a store shared by several workers: the leases, and every configured source (this
    /// worker runs those it holds).
    cluster: Option<(Cluster, Vec<SourceConfig>)>,
}

impl Supervisor {
    /// Starts a worker for each of `configs`; with `cluster`, for each this worker holds a
    /// lease on, once it has claimed its share (the first thing [`Self::run`] does).
    pub(super) fn start(
        workers: Arc<Workers>,
        configs: Vec<SourceConfig>,
        config_file: ConfigFile,
        cancel: CancelToken,
        cluster: Option<Cluster>,
    ) -> Supervisor {
        let mut s = Supervisor {
            workers,
            running: Vec::new(),
            config_file,
            cancel,
            cluster: None,
        };
        s.know_priorities(&configs);
        if let Some(cluster) = cluster {
            s.publish_health(&[], &[]);
            s.cluster = Some((cluster, configs));
            return s;
        }
        let listed: Vec<(&str, i32)> = configs.iter().map(listed).collect();
        s.publish_health(&listed, &[]);
        for config in configs {
            let schedule = s.workers.registry.schedule_for(&config);
            s.spawn(config, schedule);
        }
        s
    }

    /// Claims this worker's share of the sources and runs exactly those it holds: stops the
    /// workers of sources it lost or handed back, starts those of sources it gained.
    async fn balance(&mut self) {
        let Some((cluster, all)) = &self.cluster else {
            return;
        };
        let held = match cluster.balance(by_priority(all)).await {
            Ok(held) => held,
            Err(e) => {
                // The store cannot be reached: the leases run out, and the fenced store
                // refuses what this worker would write meanwhile.
                tracing::warn!("looking after the leases: {e:#}");
                return;
            }
        };
        let gone: Vec<Worker> = {
            let (keep, gone) = std::mem::take(&mut self.running)
                .into_iter()
                .partition(|w| held.contains(&w.config.id));
            self.running = keep;
            gone
        };
        for w in &gone {
            w.stop.cancel();
        }
        for w in gone {
            tracing::info!(source = %w.config.id, "no longer this worker's: stopped");
            let _ = w.task.await;
        }
        let starting: Vec<SourceConfig> = (all.iter())
            .filter(|c| held.contains(&c.id) && !self.running.iter().any(|w| w.config.id == c.id))
            .cloned()
            .collect();
        let listed: Vec<(&str, i32)> = (held.iter())
            .filter_map(|id| all.iter().find(|c| &c.id == id))
            .map(listed)
            .collect();
        let fresh: Vec<String> = starting.iter().map(|c| c.id.clone()).collect();
        self.publish_health(&listed, &fresh);
        for config in starting {
            tracing::info!(source = %config.id, "this worker's now: started");
            let schedule = self.workers.registry.schedule_for(&config);
            self.spawn(config, schedule);
        }
    }

    /// Runs until the process's stop, reloading on each `reload`; then waits for every worker
    /// (stopped with it) to have committed what it handed to the writer.
    pub(super) async fn run(mut self, reload: Arc<tokio::sync::Notify>) {
        let cancel = self.cancel.clone();
        let period = (self.cluster.as_ref()).map(|(c, _)| c.period());
        self.balance().await;
        loop {
            let tick = async {
                match period {
                    Some(p) => tokio::time::sleep(p).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = reload.notified() => self.reload().await,
                () = tick => self.balance().await,
            }
        }
        for w in &self.running {
            w.stop.cancel();
        }
        for w in std::mem::take(&mut self.running) {
            if let Err(e) = w.task.await {
                tracing::warn!(source = %w.config.id, "its worker ended badly: {e}");
            }
        }
        // Every worker has committed: its sources are free for the others at once.
        if let Some((cluster, _)) = &self.cluster {
            cluster.leave().await;
        }
    }

    fn spawn(&mut self, config: SourceConfig, schedule: Schedule) {
        let stop = self.cancel.child_token();
        let task = tokio::spawn(work(
            self.workers.clone(),
            config.clone(),
            schedule.clone(),
            stop.clone(),
        ));
        self.running.push(Worker {
            config,
            schedule,
            stop,
            task,
        });
    }

    async fn reload(&mut self) {
        let mut configs = match self.load() {
            Ok(configs) => configs,
            Err(e) => {
                let e = crate::redact::redact(&format!("{e:#}"));
                tracing::error!(
                    "reload: the config was not reloaded, the running sources go on: {e}"
                );
                return;
            }
        };
        self.know_priorities(&configs);
        // Shared: every source is known, those held run; the next balance claims the rest.
        if let Some((_, all)) = &mut self.cluster {
            *all = configs.clone();
            configs.retain(|c| self.running.iter().any(|w| w.config.id == c.id));
        }
        let mut old = std::mem::take(&mut self.running);
        let mut starting: Vec<(SourceConfig, Schedule)> = Vec::new();
        let (mut added, mut changed) = (Vec::new(), Vec::new());
        for config in configs {
            let schedule = self.workers.registry.schedule_for(&config);
            if let Some(i) = old.iter().position(|w| w.is_same(&config, &schedule)) {
                self.running.push(old.swap_remove(i));
                continue;
            }
            if old.iter().any(|w| w.config.id == config.id) {
                changed.push(config.id.clone());
            } else {
                added.push(config.id.clone());
            }
            starting.push((config, schedule));
        }
        let removed: Vec<String> = (old.iter())
            .map(|w| w.config.id.clone())
            .filter(|id| !changed.contains(id))
            .collect();
        // The old workers commit and end before their successors read the same cursors.
        for w in &old {
            w.stop.cancel();
        }
        for w in old {
            let _ = w.task.await;
        }
        // Their workers have ended, so nothing counts for them any more.
        for id in &removed {
            self.workers.shared.metrics.forget_source(id);
        }
        // Listed before they start, so their first run's result has a place to go.
        let listed: Vec<(&str, i32)> = (self.running.iter().map(|w| listed(&w.config)))
            .chain(starting.iter().map(|(c, _)| listed(c)))
            .collect();
        let fresh: Vec<String> = added.iter().chain(&changed).cloned().collect();
        self.publish_health(&listed, &fresh);
        for (config, schedule) in starting {
            self.spawn(config, schedule);
        }
        tracing::info!(added = ?added, removed = ?removed, changed = ?changed, "config reloaded");
    }

    /// Tells the recall API every configured source's priority.
    fn know_priorities(&self, configs: &[SourceConfig]) {
        let known = Some(athena_core::Priorities::of_configs(configs));
        match self.workers.shared.priorities.write() {
            Ok(mut p) => *p = known,
            Err(p) => *p.into_inner() = known,
        }
    }

    /// The config's sources, built once to check them (a config error refuses the reload).
    fn load(&self) -> Result<Vec<SourceConfig>> {
        let config = athena_core::Config::load_with_sources(&self.config_file.path)?;
        let configs: Vec<SourceConfig> = config
            .sources
            .into_iter()
            .map(|mut c| {
                if let Some(db) = &self.config_file.absolute_db {
                    c.set_store_path(db);
                }
                c
            })
            .collect();
        let built = self.workers.registry.build_all(&configs)?;
        crate::redact::remember(&built.secrets);
        Ok(configs)
    }

    /// What `/readyz` lists: the sources `ids`, keeping the failure counts of those that go
    /// on and starting `fresh` ones from none.
    fn publish_health(&self, sources: &[(&str, i32)], fresh: &[String]) {
        let mut health = self
            .workers
            .shared
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let kept: Vec<Health> = (sources.iter())
            .map(|&(id, priority)| {
                let kept = (health.iter())
                    .find(|h| h.id == id && !fresh.iter().any(|f| f == id))
                    .cloned();
                Health {
                    priority,
                    ..kept.unwrap_or_else(|| Health {
                        id: id.to_string(),
                        ..Health::default()
                    })
                }
            })
            .collect();
        *health = kept;
    }
}
