//! [`Ctx`]: what adapters read while rendering one case (the case, its plan, the options) and the
//! helpers they share (environment strings, srun prefixes, container flags, warnings).

use std::cell::RefCell;
use std::collections::BTreeMap;

use servebench_config::model::{Mode, TestCase};
use servebench_config::profile::{Scheduler, is_env_name, shell_words};
use servebench_plan::{Allocation, Plan, Role};

use crate::{LOG_DIR, RenderOptions};

/// Everything adapters read while rendering one case.
pub struct Ctx<'a> {
    /// The test case.
    pub case: &'a TestCase,
    /// Its plan.
    pub plan: &'a Plan,
    /// Options.
    pub opts: &'a RenderOptions,
    pub(crate) warnings: RefCell<Vec<String>>,
}

impl Ctx<'_> {
    /// The model path given to servers (`environment.model_path`, else the model name).
    pub fn model_path(&self) -> String {
        self.case
            .config
            .environment
            .values
            .get("model_path")
            .filter(|p| !p.is_empty())
            .cloned()
            .unwrap_or_else(|| self.case.config.metadata.model_name.clone())
    }

    /// The servebench binary on the compute nodes, as the start of an argv.
    pub fn servebench_bin(&self) -> Vec<String> {
        vec![
            self.opts
                .profile
                .as_ref()
                .and_then(|p| p.servebench_bin.clone())
                .unwrap_or_else(|| "servebench".into()),
        ]
    }

    /// The log directory (relative to the bundle).
    pub fn log_dir(&self) -> &'static str {
        LOG_DIR
    }

    /// Whether workers run under nsys.
    pub fn profiling(&self) -> bool {
        self.case.config.profiling.nsys_on
    }

    /// Output length the clients ask for (1 under `ctx_only`, SPEC 4 rule 8).
    pub fn output_length(&self) -> u64 {
        if self.case.config.benchmark.mode == Mode::CtxOnly {
            1
        } else {
            self.case.config.benchmark.output_length
        }
    }

    /// Whether a server runs on its own, without the disaggregated flow: aggregated servers,
    /// and the context server under `ctx_only`.
    pub fn standalone(&self, alloc: &Allocation) -> bool {
        alloc.role == Role::Agg || self.case.config.benchmark.mode == Mode::CtxOnly
    }

    /// Whether processes run inside the profile's container.
    pub fn in_container(&self) -> bool {
        self.opts
            .profile
            .as_ref()
            .is_some_and(|p| p.container.is_some())
    }

    /// The scheduler as the launch spec spells it.
    pub(crate) fn wire_scheduler(&self) -> servebench_launch::Scheduler {
        match self.scheduler() {
            Scheduler::Slurm => servebench_launch::Scheduler::Slurm,
            Scheduler::Local => servebench_launch::Scheduler::Local,
        }
    }

    /// Records a render warning.
    pub fn warn(&self, message: String) {
        let mut w = self.warnings.borrow_mut();
        if !w.contains(&message) {
            w.push(message);
        }
    }

    pub(crate) fn env_string(&self, key: &str) -> BTreeMap<String, String> {
        let text = self
            .case
            .config
            .environment
            .values
            .get(key)
            .cloned()
            .unwrap_or_default();
        self.parse_env(key, &text)
    }

    pub(crate) fn parse_env(&self, what: &str, text: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let words = shell_words(text).unwrap_or_else(|| {
            self.warn(format!(
                "environment.{what}: unbalanced quotes; split on spaces"
            ));
            text.split_whitespace().map(str::to_string).collect()
        });
        for word in words {
            match word.split_once('=') {
                Some((k, v)) if is_env_name(k) => {
                    out.insert(k.to_string(), v.to_string());
                }
                _ => self.warn(format!(
                    "environment.{what}: `{word}` is not NAME=VALUE; ignored"
                )),
            }
        }
        out
    }

    pub(crate) fn profile_env(&self) -> BTreeMap<String, String> {
        self.opts
            .profile
            .as_ref()
            .map(|p| p.env.clone())
            .unwrap_or_default()
    }

    pub(crate) fn scheduler(&self) -> Scheduler {
        self.opts
            .profile
            .as_ref()
            .map_or(Scheduler::Slurm, |p| p.scheduler)
    }

    /// srun flags of the container, when the profile uses one.
    pub(crate) fn container_flags(&self) -> Vec<String> {
        let Some(c) = self
            .opts
            .profile
            .as_ref()
            .and_then(|p| p.container.as_ref())
        else {
            return Vec::new();
        };
        let env = &self.case.config.environment.values;
        let mut out = Vec::new();
        if let Some(img) = env
            .get("container_image")
            .filter(|i| !i.is_empty())
            .or(c.image.as_ref())
        {
            out.push(format!("--container-image={img}"));
        }
        out.push(format!(
            "--container-name={}",
            c.name.as_deref().unwrap_or("servebench")
        ));
        if let Some(m) = env.get("container_mount").filter(|m| !m.is_empty()) {
            out.push(format!("--container-mounts={m}"));
        }
        out.push("--no-container-mount-home".into());
        out.extend(c.flags.iter().cloned());
        out
    }

    pub(crate) fn srun(
        &self,
        nodes: &[String],
        ntasks: u64,
        per_node: u64,
        mpi: Option<&str>,
    ) -> Vec<String> {
        let mut argv = vec![
            "srun".to_string(),
            "-l".into(),
            format!("--nodelist={}", nodes.join(",")),
            format!("--nodes={}", nodes.len()),
            format!("--ntasks={ntasks}"),
            format!("--ntasks-per-node={per_node}"),
            "--overlap".into(),
        ];
        if let Some(m) = mpi {
            argv.push(format!("--mpi={m}"));
        }
        argv.extend(self.container_flags());
        argv
    }
}
