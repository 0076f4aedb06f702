//! Cluster profiles (SPEC 3.8): what upstream scattered across `clusters.conf`, environment
//! variables and `GPU_RESOURCE_CONFIG`, in one YAML file of named clusters.
//!
//! A profiles file looks like this (`servebench.yaml` at the repository root is a real one):
//!
//! ```yaml
//! default: local
//! profiles:
//!   local:
//!     scheduler: local
//!   slurmlab:
//!     scheduler: slurm
//!     partition: normal
//!     gpus_per_node: 4
//!     gpu_request: gres       # --gres=gpu:N; or gpus-per-node, or none
//!     segment: false          # Slurm 22.05 has no --segment
//! ```
//!
//! A [`Profile`] gives two things: a [`ProfileLayer`] for the config override layer (SPEC 3.4:
//! above the file, below environment and command line; every value it sets is recorded with
//! [`crate::model::Origin::Profile`]), and the executor facts the planner and the renderer read
//! (scheduler, GPU request style, `--segment` support, extra sbatch args, containers, MPI type,
//! directories, environment). Selection: `--cluster NAME`, else `SERVEBENCH_CLUSTER`, else the
//! file's `default`; the file is `./servebench.yaml`, else `<user config dir>/servebench/servebench.yaml`
//! (see [`search_paths`]).
//!
//! ```
//! use servebench_config::profile::{Profiles, Scheduler};
//! let text = "profiles:\n  lab:\n    scheduler: slurm\n    partition: gpu\n    gpus_per_node: 4\n";
//! let profiles = Profiles::parse(text, "servebench.yaml".as_ref()).unwrap();
//! let lab = profiles.get("lab").unwrap();
//! assert_eq!(lab.scheduler, Scheduler::Slurm);
//! assert_eq!(lab.layer().values.len(), 2); // slurm.partition, hardware.gpus_per_node
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::diag::did_you_mean;
use crate::load::{LoadOptions, ProfileLayer};
use crate::yaml::{self, Node, Span, Value};

/// Name of the profiles file looked up in the current directory and the user config dir.
pub const FILE_NAME: &str = "servebench.yaml";
/// Environment variable selecting a profile.
pub const ENV_VAR: &str = "SERVEBENCH_CLUSTER";

/// Which executor runs bundles on this cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scheduler {
    /// Child processes on this machine.
    #[default]
    Local,
    /// `sbatch` on a SLURM cluster.
    Slurm,
}

/// How GPUs are requested from SLURM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum GpuRequest {
    /// `--gpus-per-node=N`.
    GpusPerNode,
    /// `--gres=gpu:N`.
    Gres,
    /// Nothing (the partition hands out whole nodes).
    #[default]
    None,
}

/// Container runtime settings (pyxis/enroot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Container {
    /// Runtime name (`pyxis`).
    pub runtime: String,
    /// Image (`--container-image`); empty means the config's `environment.container_image`.
    pub image: Option<String>,
    /// Container name (`--container-name`).
    pub name: Option<String>,
    /// Extra srun flags for containers (e.g. `--no-container-mount-home`).
    pub flags: Vec<String>,
}

/// One named cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Profile {
    /// Profile name.
    pub name: String,
    /// Executor.
    pub scheduler: Scheduler,
    /// `--account`.
    pub account: Option<String>,
    /// `--partition`.
    pub partition: Option<String>,
    /// GPU type of the nodes (for `supported_gpus` filtering when `--gpu-type` is absent).
    pub gpu_type: Option<String>,
    /// GPUs per node; overrides `hardware.gpus_per_node` of every config.
    pub gpus_per_node: Option<u64>,
    /// How GPUs are requested.
    pub gpu_request: GpuRequest,
    /// Whether `sbatch --segment` exists on this cluster.
    pub segment: bool,
    /// Extra sbatch arguments, one per element.
    pub sbatch_args: Vec<String>,
    /// Default `--time` when a config has no `slurm.job_time`.
    pub job_time: Option<String>,
    /// Container settings; `None` runs on the bare nodes.
    pub container: Option<Container>,
    /// Container mounts (`src:dst`).
    pub mounts: Vec<String>,
    /// MPI type for engine workers (`pmix`).
    pub mpi: Option<String>,
    /// Model directory (like MODEL_DIR).
    pub model_dir: Option<String>,
    /// Dataset directory (like DATASET_DIR).
    pub dataset_dir: Option<String>,
    /// Hugging Face cache (like HF_HOME_DIR).
    pub hf_home: Option<String>,
    /// Environment exported to every role.
    pub env: BTreeMap<String, String>,
    /// GPU lock clocks (informational; recorded with results).
    pub gpu_clocks: Option<String>,
    /// The servebench binary on the compute nodes (default `servebench` from PATH).
    pub servebench_bin: Option<String>,
    /// Extra config overrides by dotted path, applied in the profile layer.
    #[serde(skip)]
    pub overrides: Vec<(String, Node)>,
}

/// Every profile of a profiles file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profiles {
    /// The file the profiles came from.
    pub path: PathBuf,
    /// The `default:` profile name.
    pub default: Option<String>,
    /// Profiles in file order.
    pub profiles: Vec<Profile>,
}

/// A problem with a profiles file or a profile selection.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read {}: {message}", path.display())]
    Read {
        /// File.
        path: PathBuf,
        /// OS message.
        message: String,
    },
    /// The file is not valid YAML or has the wrong shape.
    #[error("{}:{}:{}: {message}", path.display(), span.line, span.col)]
    Invalid {
        /// File.
        path: PathBuf,
        /// Where.
        span: Span,
        /// What is wrong, with the fix.
        message: String,
    },
    /// The selected profile does not exist.
    #[error("no cluster profile `{name}` in {}{}", path.display(), match closest { Some(c) => format!(" (did you mean `{c}`?)"), None => format!(" (profiles: {})", known.join(", ")) })]
    Unknown {
        /// Requested name.
        name: String,
        /// File searched.
        path: PathBuf,
        /// Closest name.
        closest: Option<String>,
        /// Every name.
        known: Vec<String>,
    },
    /// A profile was requested but no profiles file exists.
    #[error("cluster profile `{name}` requested, but no {FILE_NAME} was found (looked in: {})", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NoFile {
        /// Requested name.
        name: String,
        /// Paths looked at.
        searched: Vec<PathBuf>,
    },
}

const PROFILE_KEYS: &[&str] = &[
    "scheduler",
    "account",
    "partition",
    "gpu_type",
    "gpus_per_node",
    "gpu_request",
    "segment",
    "sbatch_args",
    "job_time",
    "container",
    "mounts",
    "mpi",
    "model_dir",
    "dataset_dir",
    "hf_home",
    "env",
    "gpu_clocks",
    "servebench_bin",
    "overrides",
];
const CONTAINER_KEYS: &[&str] = &["runtime", "image", "name", "flags"];

/// Where profiles files are looked for, in order: `./servebench.yaml`, then the user config dir
/// (`$XDG_CONFIG_HOME/servebench/servebench.yaml`, else `$HOME/.config/servebench/servebench.yaml`).
pub fn search_paths(cwd: &Path, env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut out = vec![cwd.join(FILE_NAME)];
    let config_dir = env("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| Path::new(&h).join(".config"))
        });
    if let Some(dir) = config_dir {
        out.push(dir.join("servebench").join(FILE_NAME));
    }
    out
}

/// Finds the profile to use: `requested` (from `--cluster` or [`ENV_VAR`]), else the default of
/// the first profiles file found. Returns `Ok(None)` when nothing was requested and no file (or
/// no default) exists: the built-in behaviour is the local executor without overrides.
pub fn select(requested: Option<&str>, paths: &[PathBuf]) -> Result<Option<Profile>, ProfileError> {
    let Some(path) = paths.iter().find(|p| p.is_file()) else {
        return match requested {
            Some(name) => Err(ProfileError::NoFile {
                name: name.to_string(),
                searched: paths.to_vec(),
            }),
            None => Ok(None),
        };
    };
    let profiles = Profiles::read(path)?;
    let Some(name) = requested.map(str::to_string).or(profiles.default.clone()) else {
        return Ok(None);
    };
    profiles.get(&name).cloned().map(Some).ok_or_else(|| {
        let known: Vec<String> = profiles.profiles.iter().map(|p| p.name.clone()).collect();
        ProfileError::Unknown {
            closest: did_you_mean(&name, known.iter().map(String::as_str)).map(str::to_string),
            name,
            path: path.clone(),
            known,
        }
    })
}

impl Profiles {
    /// Reads and parses a profiles file.
    pub fn read(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses profiles text; `path` is used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ProfileError> {
        let root = yaml::parse(text).map_err(|e| ProfileError::Invalid {
            path: path.to_path_buf(),
            span: e.span,
            message: e.message,
        })?;
        let d = Dec { path };
        let entries = d.map(&root, "the file")?;
        let mut out = Profiles {
            path: path.to_path_buf(),
            ..Default::default()
        };
        for (k, v) in entries {
            match k.as_key() {
                Some("default") => out.default = Some(d.string(v, "default")?),
                Some("profiles") => {
                    for (name, body) in d.map(v, "profiles")? {
                        let name_str = name.as_key().ok_or_else(|| {
                            d.err(name.span, "profile names must be strings".into())
                        })?;
                        out.profiles.push(d.profile(name_str, body)?);
                    }
                }
                other => {
                    return Err(d.unknown(k.span, other.unwrap_or("?"), &["default", "profiles"]));
                }
            }
        }
        if let Some(def) = &out.default
            && out.get(def).is_none()
        {
            return Err(d.err(
                root.key_span("default").unwrap_or_default(),
                format!("`default: {def}` names no profile under `profiles:`"),
            ));
        }
        Ok(out)
    }

    /// A profile by name.
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }
}

impl Profile {
    /// The profile's contribution to the config override layer: partition, account,
    /// gpus_per_node, container image and mounts, HF home, then the explicit `overrides`.
    pub fn layer(&self) -> ProfileLayer {
        let s = |v: &str| Node::synthetic(Value::Str(v.to_string()));
        let mut values = Vec::new();
        if let Some(p) = &self.partition {
            values.push(("slurm.partition".to_string(), s(p)));
        }
        if let Some(a) = &self.account {
            values.push(("slurm.account".to_string(), s(a)));
        }
        if let Some(g) = self.gpus_per_node {
            let n = i64::try_from(g).unwrap_or(i64::MAX);
            values.push((
                "hardware.gpus_per_node".to_string(),
                Node::synthetic(Value::Int(n)),
            ));
        }
        if let Some(img) = self.container.as_ref().and_then(|c| c.image.as_deref()) {
            values.push(("environment.container_image".to_string(), s(img)));
        }
        if !self.mounts.is_empty() {
            values.push((
                "environment.container_mount".to_string(),
                s(&self.mounts.join(",")),
            ));
        }
        if let Some(h) = &self.hf_home {
            values.push(("accuracy.env_var.HF_HOME".to_string(), s(h)));
        }
        values.extend(self.overrides.iter().cloned());
        ProfileLayer {
            name: self.name.clone(),
            values,
        }
    }

    /// Applies the profile to load options: sets the profile layer, and fills MODEL_DIR,
    /// DATASET_DIR and HF_HOME_DIR from the profile's directories where the environment does not
    /// set them (so model and dataset paths are joined exactly as with those variables).
    pub fn apply(&self, opts: &mut LoadOptions) {
        opts.profile = Some(self.layer());
        for (var, value) in [
            ("MODEL_DIR", &self.model_dir),
            ("DATASET_DIR", &self.dataset_dir),
            ("HF_HOME_DIR", &self.hf_home),
        ] {
            if let Some(v) = value {
                opts.env.entry(var.to_string()).or_insert_with(|| v.clone());
            }
        }
    }
}

struct Dec<'a> {
    path: &'a Path,
}

impl Dec<'_> {
    fn err(&self, span: Span, message: String) -> ProfileError {
        ProfileError::Invalid {
            path: self.path.to_path_buf(),
            span,
            message,
        }
    }

    fn unknown(&self, span: Span, key: &str, known: &[&str]) -> ProfileError {
        let hint = match did_you_mean(key, known.iter().copied()) {
            Some(c) => format!(" (did you mean `{c}`?)"),
            None => format!(" (known keys: {})", known.join(", ")),
        };
        self.err(span, format!("unknown key `{key}`{hint}"))
    }

    fn map<'n>(&self, n: &'n Node, what: &str) -> Result<&'n [(Node, Node)], ProfileError> {
        match &n.value {
            Value::Map(m) => Ok(m),
            Value::Null => Ok(&[]),
            other => Err(self.err(
                n.span,
                format!("{what} must be a mapping, found {}", other.type_name()),
            )),
        }
    }

    fn string(&self, n: &Node, key: &str) -> Result<String, ProfileError> {
        match &n.value {
            Value::Str(s) => Ok(s.clone()),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => Ok(yaml::scalar_text(&n.value)),
            other => Err(self.err(
                n.span,
                format!("`{key}` must be a string, found {}", other.type_name()),
            )),
        }
    }

    fn opt_string(&self, n: &Node, key: &str) -> Result<Option<String>, ProfileError> {
        if n.is_null() {
            return Ok(None);
        }
        self.string(n, key).map(Some)
    }

    fn strings(&self, n: &Node, key: &str) -> Result<Vec<String>, ProfileError> {
        match &n.value {
            Value::Null => Ok(Vec::new()),
            Value::Seq(items) => items.iter().map(|i| self.string(i, key)).collect(),
            // A single string is shell-split, like `slurm.extra_args`.
            Value::Str(s) => shell_words(s)
                .ok_or_else(|| self.err(n.span, format!("`{key}` has unbalanced quotes"))),
            other => Err(self.err(
                n.span,
                format!(
                    "`{key}` must be a list of strings, found {}",
                    other.type_name()
                ),
            )),
        }
    }

    fn boolean(&self, n: &Node, key: &str) -> Result<bool, ProfileError> {
        match n.value {
            Value::Bool(b) => Ok(b),
            _ => Err(self.err(n.span, format!("`{key}` must be true or false"))),
        }
    }

    fn uint(&self, n: &Node, key: &str) -> Result<u64, ProfileError> {
        match n.value {
            Value::Int(i) if i > 0 => u64::try_from(i).map_err(|_| self.err(n.span, String::new())),
            _ => Err(self.err(n.span, format!("`{key}` must be a positive integer"))),
        }
    }

    fn profile(&self, name: &str, body: &Node) -> Result<Profile, ProfileError> {
        let mut p = Profile {
            name: name.to_string(),
            ..Default::default()
        };
        for (k, v) in self.map(body, &format!("profile `{name}`"))? {
            let key = k.as_key().unwrap_or("?");
            match key {
                "scheduler" => {
                    p.scheduler = match self.string(v, key)?.as_str() {
                        "slurm" => Scheduler::Slurm,
                        "local" => Scheduler::Local,
                        other => {
                            return Err(self.err(
                                v.span,
                                format!("`scheduler` is `{other}`; expected `slurm` or `local`"),
                            ));
                        }
                    }
                }
                "account" => p.account = self.opt_string(v, key)?,
                "partition" => p.partition = self.opt_string(v, key)?,
                "gpu_type" => p.gpu_type = self.opt_string(v, key)?,
                "gpus_per_node" => p.gpus_per_node = Some(self.uint(v, key)?),
                "gpu_request" => {
                    p.gpu_request = match self.opt_string(v, key)?.as_deref() {
                        Some("gpus-per-node" | "gpus_per_node") => GpuRequest::GpusPerNode,
                        Some("gres") => GpuRequest::Gres,
                        None | Some("none") => GpuRequest::None,
                        Some(other) => {
                            return Err(self.err(
                                v.span,
                                format!(
                                    "`gpu_request` is `{other}`; expected `gpus-per-node`, `gres` or `none`"
                                ),
                            ));
                        }
                    }
                }
                "segment" => p.segment = self.boolean(v, key)?,
                "sbatch_args" => p.sbatch_args = self.strings(v, key)?,
                "job_time" => p.job_time = self.opt_string(v, key)?,
                "container" => {
                    if v.is_null() {
                        continue;
                    }
                    let mut c = Container {
                        runtime: "pyxis".into(),
                        ..Default::default()
                    };
                    for (ck, cv) in self.map(v, "container")? {
                        let ckey = ck.as_key().unwrap_or("?");
                        match ckey {
                            "runtime" => c.runtime = self.string(cv, ckey)?,
                            "image" => c.image = self.opt_string(cv, ckey)?,
                            "name" => c.name = self.opt_string(cv, ckey)?,
                            "flags" => c.flags = self.strings(cv, ckey)?,
                            _ => return Err(self.unknown(ck.span, ckey, CONTAINER_KEYS)),
                        }
                    }
                    p.container = Some(c);
                }
                "mounts" => p.mounts = self.strings(v, key)?,
                "mpi" => p.mpi = self.opt_string(v, key)?,
                "model_dir" => p.model_dir = self.opt_string(v, key)?,
                "dataset_dir" => p.dataset_dir = self.opt_string(v, key)?,
                "hf_home" => p.hf_home = self.opt_string(v, key)?,
                "env" => {
                    for (ek, ev) in self.map(v, "env")? {
                        let name = ek.as_key().unwrap_or("?");
                        if !is_env_name(name) {
                            return Err(self.err(
                                ek.span,
                                format!("`{name}` is not a valid environment variable name"),
                            ));
                        }
                        p.env.insert(name.to_string(), self.string(ev, name)?);
                    }
                }
                "gpu_clocks" => p.gpu_clocks = self.opt_string(v, key)?,
                "servebench_bin" => p.servebench_bin = self.opt_string(v, key)?,
                "overrides" => {
                    for (ok, ov) in self.map(v, "overrides")? {
                        let path = ok.as_key().unwrap_or("?");
                        if path.split('.').any(str::is_empty) {
                            return Err(self.err(
                                ok.span,
                                format!("`{path}` is not a dotted path such as `slurm.job_time`"),
                            ));
                        }
                        p.overrides.push((path.to_string(), ov.clone()));
                    }
                }
                _ => return Err(self.unknown(k.span, key, PROFILE_KEYS)),
            }
        }
        Ok(p)
    }
}

/// Whether `name` is a portable environment variable name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Splits a string into words like a POSIX shell would (quotes, backslashes, `#` comments),
/// without any expansion, through the `shlex` crate. `None` when quotes are unbalanced.
pub fn shell_words(s: &str) -> Option<Vec<String>> {
    shlex::split(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "default: local\nprofiles:\n  local:\n    scheduler: local\n  lab:\n    scheduler: slurm\n    partition: normal\n    account: acct\n    gpus_per_node: 4\n    gpu_request: gres\n    segment: false\n    sbatch_args: --exclusive --comment='a b'\n    model_dir: /models\n    env: {A: '1'}\n    overrides:\n      slurm.job_time: '01:00:00'\n";

    #[test]
    fn parses_and_layers() {
        let p = Profiles::parse(FILE, Path::new("servebench.yaml")).unwrap();
        assert_eq!(p.default.as_deref(), Some("local"));
        let lab = p.get("lab").unwrap();
        assert_eq!(lab.gpu_request, GpuRequest::Gres);
        assert_eq!(lab.sbatch_args, vec!["--exclusive", "--comment=a b"]);
        let layer = lab.layer();
        let paths: Vec<&str> = layer.values.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "slurm.partition",
                "slurm.account",
                "hardware.gpus_per_node",
                "slurm.job_time"
            ]
        );
        let mut opts = LoadOptions::default();
        opts.env.insert("MODEL_DIR".into(), "/env-wins".into());
        lab.apply(&mut opts);
        assert_eq!(opts.env["MODEL_DIR"], "/env-wins");
        assert_eq!(opts.profile.unwrap().name, "lab");
    }

    #[test]
    fn unknown_key_suggests() {
        let e = Profiles::parse("profiles:\n  x:\n    partiton: a\n", Path::new("f.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.yaml:3:5"), "{e}");
        assert!(e.contains("did you mean `partition`"), "{e}");
    }

    #[test]
    fn selection() {
        let dir = std::env::temp_dir().join(format!("sb-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join(FILE_NAME);
        std::fs::write(&f, FILE).unwrap();
        let paths = vec![dir.join("missing.yaml"), f.clone()];
        assert_eq!(select(None, &paths).unwrap().unwrap().name, "local");
        assert_eq!(select(Some("lab"), &paths).unwrap().unwrap().name, "lab");
        let e = select(Some("labb"), &paths).unwrap_err().to_string();
        assert!(e.contains("did you mean `lab`"), "{e}");
        assert!(matches!(
            select(Some("lab"), &paths[..1]),
            Err(ProfileError::NoFile { .. })
        ));
        assert_eq!(select(None, &paths[..1]).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shell_words_like_sh() {
        assert_eq!(
            shell_words(r#"a 'b c' "d \"e\"" f\ g"#).unwrap(),
            ["a", "b c", "d \"e\"", "f g"]
        );
        assert_eq!(shell_words("'open"), None);
        assert!(shell_words("  ").unwrap().is_empty());
    }
}
