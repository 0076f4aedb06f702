//! `servebench bench`: command-line arguments (named as upstream's `benchmark_serving`) and the
//! entry point the CLI crate calls. Exit codes: 0 every request succeeded, 1 some failed (or the
//! client was the bottleneck with `--fail-on-client-bound`), 2 usage error (bad or contradictory
//! options, unreadable dataset or tokenizer), 3 infrastructure error (server unreachable,
//! internal error).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{BenchConfig, DatasetSpec, Endpoint, Metric, RequestRate, Slo};
use crate::error::BenchError;
use crate::report::{BenchReport, result_json, write_requests_jsonl, write_text};

const OK: u8 = 0;
const FAILED: u8 = 1;
const USAGE: u8 = 2;
const INFRA: u8 = 3;

/// Dataset kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DatasetName {
    /// Random token ids (seeded).
    Random,
    /// TensorRT-LLM custom JSON/JSONL (`input_ids` or `prompt`, `output_tokens`).
    #[value(name = "trtllm_custom")]
    TrtllmCustom,
    /// ShareGPT JSON.
    Sharegpt,
    /// JSON lines `{"prompt": ..., "output_len": N}`.
    Jsonl,
}

/// Load-test an OpenAI-compatible server and print upstream's `benchmark_serving` result block.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Server base URL, e.g. http://127.0.0.1:8000 (instead of --host/--port).
    #[arg(long, conflicts_with_all = ["host", "port"])]
    pub base_url: Option<String>,
    /// Server host [default: 127.0.0.1].
    #[arg(long)]
    pub host: Option<String>,
    /// Server port [default: 8000].
    #[arg(long)]
    pub port: Option<u16>,
    /// API endpoint [default: /v1/completions, or /v1/chat/completions with --use-chat-template].
    #[arg(long, value_parser = ["/v1/completions", "/v1/chat/completions"])]
    pub endpoint: Option<String>,
    /// Upstream's backend name: openai = /v1/completions, openai-chat = /v1/chat/completions.
    #[arg(long, value_parser = ["openai", "openai-chat"])]
    pub backend: Option<String>,
    /// Model name sent in requests [default: the first model of the server's /v1/models].
    #[arg(long)]
    pub model: Option<String>,
    /// Where prompts come from.
    #[arg(long, value_enum, default_value = "random")]
    pub dataset_name: DatasetName,
    /// Dataset file (trtllm_custom, sharegpt, jsonl).
    #[arg(long)]
    pub dataset_path: Option<PathBuf>,
    /// Random dataset: prompt length in tokens [default: 1024].
    #[arg(long)]
    pub random_input_len: Option<u64>,
    /// Random dataset: output length in tokens [default: 128].
    #[arg(long)]
    pub random_output_len: Option<u64>,
    /// Random dataset: lengths are drawn in [floor(len*ratio), len], as upstream's SGLang-style
    /// random dataset (1.0: fixed lengths; 0.8: [0.8 len, len]) [default: 1.0].
    #[arg(long)]
    pub random_range_ratio: Option<f64>,
    /// Random dataset: send prompts as token-id lists (the default without --tokenizer).
    #[arg(long)]
    pub random_ids: bool,
    /// Random dataset: vocabulary size for ids when no tokenizer is given [default: 32000].
    #[arg(long)]
    pub random_vocab_size: Option<u32>,
    /// ShareGPT: fixed output length instead of the reference answer's token count.
    #[arg(long)]
    pub sharegpt_output_len: Option<u64>,
    /// Number of measured requests (per concurrency of a sweep).
    #[arg(long, default_value_t = 1000)]
    pub num_prompts: usize,
    /// Maximum requests in flight; a comma list (1,8,64) runs a sweep [default: unbounded].
    #[arg(long, value_delimiter = ',')]
    pub max_concurrency: Vec<usize>,
    /// Requests per second, or inf to send as fast as the concurrency allows.
    #[arg(long, default_value = "inf")]
    pub request_rate: String,
    /// Gamma shape of arrival gaps with a finite rate; 1 is a Poisson process [default: 1.0].
    #[arg(long)]
    pub burstiness: Option<f64>,
    /// Ask the server to ignore EOS so every request generates its full length.
    #[arg(long)]
    pub ignore_eos: bool,
    /// Metrics to report, comma separated, from ttft,tpot,itl,e2el.
    #[arg(long, default_value = "ttft,tpot,itl")]
    pub percentile_metrics: String,
    /// Percentiles to report, comma separated (e.g. 50,90,99,99.9).
    #[arg(long, default_value = "99")]
    pub metric_percentiles: String,
    /// Goodput SLOs as KEY:MS pairs, keys ttft, tpot, e2el (e.g. --goodput ttft:500 tpot:50).
    #[arg(long, num_args = 1..)]
    pub goodput: Vec<String>,
    /// Wait for whole answers instead of streaming (TTFT = E2EL, no ITL).
    #[arg(long)]
    pub non_streaming: bool,
    /// Send prompts as chat messages so the server applies the model's chat template.
    #[arg(long)]
    pub use_chat_template: bool,
    /// Local tokenizer.json to count tokens and render token ids as text.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Requests sent before the clock starts (not measured).
    #[arg(long, default_value_t = 0)]
    pub warmup: usize,
    /// Seed for datasets and arrival times.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the result JSON (vLLM field names plus a `servebench` object).
    #[arg(long)]
    pub save_result: bool,
    /// Directory of the result JSON [default: .]; a sweep writes concurrency_<C>/ below it.
    #[arg(long, requires = "save_result")]
    pub result_dir: Option<PathBuf>,
    /// File name of the result JSON [default: <backend>-<rate>qps-concurrency<C>-<date>.json].
    #[arg(long, requires = "save_result")]
    pub result_filename: Option<String>,
    /// Write one JSON line per request to this file.
    #[arg(long)]
    pub per_request: Option<PathBuf>,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 21600.0)]
    pub timeout: f64,
    /// Overall deadline of each measured run in seconds; unfinished requests then fail.
    #[arg(long)]
    pub deadline: Option<f64>,
    /// Client runtime threads [default: the cores this process may use].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Exit 1 when the client health check says the client limited the run.
    #[arg(long)]
    pub fail_on_client_bound: bool,
    /// Bearer token sent with each request.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// A workload file (YAML or JSON: exactly what goes under `benchmark.workload:`) in place
    /// of the dataset: shared_prefix, multi_turn or trace.
    #[arg(long, conflicts_with_all = ["dataset_path", "random_input_len", "random_output_len", "random_range_ratio", "random_ids", "random_vocab_size", "sharegpt_output_len"])]
    pub workload: Option<PathBuf>,
    /// SLOs for a search, comma separated: METRIC_STAT<=LIMIT, e.g. ttft_p99<=500ms,tpot_p50<=20ms.
    #[arg(long, requires_all = ["search", "max"])]
    pub slo: Option<String>,
    /// With --slo: search the highest concurrency or request rate meeting every SLO.
    #[arg(long, value_enum, requires = "slo")]
    pub search: Option<crate::search::SearchOver>,
    /// With --slo: the highest load tried.
    #[arg(long, requires = "slo")]
    pub max: Option<f64>,
    /// With --slo: the lowest load tried [default: 1].
    #[arg(long, requires = "slo")]
    pub min: Option<f64>,
    /// With --slo: stop when the bracket is this narrow [default: 1 for concurrency, 0.05 of
    /// the load for rate].
    #[arg(long, requires = "slo")]
    pub precision: Option<f64>,
    /// With --slo: most measured runs [default: 16].
    #[arg(long, requires = "slo")]
    pub max_steps: Option<usize>,
    /// Accepted for compatibility with upstream command lines; has no effect.
    #[arg(long, hide = true)]
    pub trust_remote_code: bool,
}

/// What to write besides stdout.
#[derive(Debug)]
struct Outputs {
    /// `--slo`: run a search instead of the listed concurrencies.
    search: Option<crate::search::SloSearch>,
    save: Option<(PathBuf, Option<String>)>,
    per_request: Option<PathBuf>,
    fail_on_client_bound: bool,
}

fn parse_csv<T>(s: &str, what: &str, f: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| f(x).ok_or_else(|| format!("invalid {what} `{x}`")))
        .collect()
}

/// Converts the arguments into one config per concurrency of the sweep.
fn configs(a: &BenchArgs) -> Result<(Vec<BenchConfig>, Outputs), String> {
    let base_url = match &a.base_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => {
            let host = a.host.as_deref().unwrap_or("127.0.0.1");
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.to_owned()
            };
            format!("http://{host}:{}", a.port.unwrap_or(8000))
        }
    };
    let from_endpoint = a.endpoint.as_deref().map(|e| {
        if e == "/v1/chat/completions" {
            Endpoint::ChatCompletions
        } else {
            Endpoint::Completions
        }
    });
    let from_backend = a.backend.as_deref().map(|b| {
        if b == "openai-chat" {
            Endpoint::ChatCompletions
        } else {
            Endpoint::Completions
        }
    });
    let from_template = a.use_chat_template.then_some(Endpoint::ChatCompletions);
    let mut endpoint = None;
    for (name, e) in [
        ("--endpoint", from_endpoint),
        ("--backend", from_backend),
        ("--use-chat-template", from_template),
    ] {
        match (endpoint, e) {
            (Some((prev, first)), Some(e)) if prev != e => {
                return Err(format!("{first} and {name} ask for different endpoints"));
            }
            (None, Some(e)) => endpoint = Some((e, name)),
            _ => {}
        }
    }
    let endpoint = endpoint.map_or(Endpoint::Completions, |(e, _)| e);

    let random_given = a.random_input_len.is_some()
        || a.random_output_len.is_some()
        || a.random_range_ratio.is_some()
        || a.random_ids
        || a.random_vocab_size.is_some();
    let path = |name: &str| {
        a.dataset_path
            .clone()
            .ok_or_else(|| format!("--dataset-name {name} needs --dataset-path"))
    };
    if a.dataset_name != DatasetName::Random && random_given {
        return Err("--random-* options apply only to --dataset-name random".into());
    }
    if a.dataset_name != DatasetName::Sharegpt && a.sharegpt_output_len.is_some() {
        return Err("--sharegpt-output-len applies only to --dataset-name sharegpt".into());
    }
    let dataset = match a.dataset_name {
        DatasetName::Random => {
            if a.dataset_path.is_some() {
                return Err("--dataset-path is not used by --dataset-name random".into());
            }
            DatasetSpec::Random {
                input_len: a.random_input_len.unwrap_or(1024),
                output_len: a.random_output_len.unwrap_or(128),
                range_ratio: a.random_range_ratio.unwrap_or(1.0),
                ids: a.random_ids || a.tokenizer.is_none(),
                vocab_size: a.random_vocab_size.unwrap_or(32000),
            }
        }
        DatasetName::TrtllmCustom => DatasetSpec::TrtllmCustom {
            path: path("trtllm_custom")?,
        },
        DatasetName::Sharegpt => DatasetSpec::ShareGpt {
            path: path("sharegpt")?,
            output_len: a.sharegpt_output_len,
        },
        DatasetName::Jsonl => DatasetSpec::Jsonl {
            path: path("jsonl")?,
        },
    };
    let request_rate = if a.request_rate.trim().eq_ignore_ascii_case("inf") {
        if a.burstiness.is_some() {
            return Err("--burstiness needs a finite --request-rate".into());
        }
        RequestRate::Infinite
    } else {
        let rate: f64 = a.request_rate.trim().parse().map_err(|_| {
            format!(
                "invalid --request-rate `{}` (a number or inf)",
                a.request_rate
            )
        })?;
        RequestRate::PerSecond {
            rate,
            burstiness: a.burstiness.unwrap_or(1.0),
        }
    };
    let percentile_metrics =
        parse_csv(&a.percentile_metrics, "percentile metric", Metric::from_key)?;
    let percentiles = parse_csv(&a.metric_percentiles, "percentile", |x| {
        x.parse::<f64>().ok()
    })?;
    let mut goodput = Vec::new();
    for pair in &a.goodput {
        let (k, v) = pair
            .split_once(':')
            .ok_or_else(|| format!("invalid --goodput `{pair}`: expected KEY:MS"))?;
        let metric = Metric::from_key(k.trim())
            .filter(|m| *m != Metric::Itl)
            .ok_or_else(|| format!("invalid --goodput key `{k}`: one of ttft, tpot, e2el"))?;
        let limit_ms = v
            .trim()
            .parse()
            .map_err(|_| format!("invalid --goodput value `{v}`: milliseconds"))?;
        goodput.push(Slo { metric, limit_ms });
    }
    let secs = |v: f64, name: &str| {
        Duration::try_from_secs_f64(v)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("{name} must be a positive number of seconds"))
    };
    let request_timeout = secs(a.timeout, "--timeout")?;
    let deadline = a.deadline.map(|d| secs(d, "--deadline")).transpose()?;
    if a.threads == Some(0) {
        return Err("--threads must be at least 1".into());
    }
    let mut base = BenchConfig::new(base_url, dataset);
    base.endpoint = endpoint;
    base.model = a.model.clone();
    base.num_prompts = a.num_prompts;
    base.request_rate = request_rate;
    base.ignore_eos = a.ignore_eos;
    base.streaming = !a.non_streaming;
    base.percentile_metrics = percentile_metrics;
    base.percentiles = percentiles;
    base.goodput = goodput;
    base.tokenizer = a.tokenizer.clone();
    base.warmup = a.warmup;
    base.seed = a.seed;
    base.request_timeout = request_timeout;
    base.deadline = deadline;
    base.api_key = a.api_key.clone().filter(|k| !k.is_empty());
    if let Some(path) = &a.workload {
        if a.dataset_name != DatasetName::Random {
            return Err("--workload replaces the dataset: drop --dataset-name".into());
        }
        base.workload = Some(crate::workload::Workload::read(path).map_err(|e| e.to_string())?);
    }
    let concurrencies: Vec<Option<usize>> = if a.max_concurrency.is_empty() {
        vec![None]
    } else {
        a.max_concurrency.iter().map(|&c| Some(c)).collect()
    };
    let mut out = Vec::new();
    for c in concurrencies {
        let mut cfg = base.clone();
        cfg.max_concurrency = c;
        crate::validate(&cfg).map_err(|e| match e {
            BenchError::InvalidConfig(m) => m,
            other => other.to_string(),
        })?;
        out.push(cfg);
    }
    let search = match (&a.slo, a.search, a.max) {
        (Some(slo), Some(over), Some(max)) => {
            let s = crate::search::SloSearch {
                slo: crate::search::SloBound::parse_list(slo)?,
                search: over,
                max,
                min: a.min.unwrap_or(1.0),
                precision: a.precision,
                max_steps: a.max_steps.unwrap_or(16),
            };
            s.check()?;
            if over == crate::search::SearchOver::Concurrency && out.len() > 1 {
                return Err(
                    "--search concurrency chooses the concurrency: drop the --max-concurrency list"
                        .into(),
                );
            }
            Some(s)
        }
        _ => None,
    };
    let save = a.save_result.then(|| {
        (
            a.result_dir.clone().unwrap_or_else(|| PathBuf::from(".")),
            a.result_filename.clone(),
        )
    });
    Ok((
        out,
        Outputs {
            search,
            save,
            per_request: a.per_request.clone(),
            fail_on_client_bound: a.fail_on_client_bound,
        },
    ))
}

/// Prints an error with its sources.
fn report_error(e: &dyn std::error::Error) {
    let mut msg = format!("error: {e}");
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    eprintln!("{msg}");
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn result_path(report: &BenchReport, dir: &Path, name: Option<&str>, sweep: bool) -> PathBuf {
    let c = report.max_concurrency;
    let dir = match (sweep, c) {
        (true, Some(c)) => dir.join(format!("concurrency_{c}")),
        _ => dir.to_path_buf(),
    };
    let name = name.map_or_else(
        || {
            let rate = match report.request_rate {
                RequestRate::Infinite => "inf".to_owned(),
                RequestRate::PerSecond { rate, .. } => format!("{rate}"),
            };
            let conc = c.map_or_else(String::new, |c| format!("-concurrency{c}"));
            let model = report.model.rsplit('/').next().unwrap_or("model");
            format!(
                "{}-{rate}qps{conc}-{model}-{}.json",
                report.endpoint.backend_name(),
                report.date
            )
        },
        str::to_owned,
    );
    dir.join(name)
}

/// Raises the open-file limit to its hard maximum (a connection per concurrent request).
fn raise_nofile() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Runs the command and returns the process exit code.
pub fn run(args: BenchArgs) -> u8 {
    let (cfgs, outputs) = match configs(&args) {
        Ok(x) => x,
        Err(m) => {
            eprintln!("error: {m}");
            return USAGE;
        }
    };
    raise_nofile();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // One thread: a current-thread runtime, so no wake-up ever crosses threads.
    let built = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let rt = match built {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return INFRA;
        }
    };
    let mut per_request = match &outputs.per_request {
        // A missing directory is created, as `--result-dir` is.
        Some(p) => match p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| File::create(p))
        {
            Ok(f) => Some(BufWriter::new(f)),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", p.display());
                return USAGE;
            }
        },
        None => None,
    };
    if let Some(search) = &outputs.search {
        let Some(base) = cfgs.first() else {
            return USAGE;
        };
        return run_search_cli(&rt, base, search);
    }
    let sweep = cfgs.len() > 1;
    let mut code = OK;
    for cfg in &cfgs {
        let report = match rt.block_on(crate::run_benchmark(cfg)) {
            Ok(r) => r,
            Err(e) => {
                report_error(&e);
                return exit_for(&e);
            }
        };
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        // A closed stdout (e.g. `| head`) must not turn into a failure.
        let _ = write_text(&report, &mut out).and_then(|()| out.flush());
        drop(out);
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        if report.health.client_bound {
            eprintln!(
                "warning: the client limited this run: {}",
                report.health.reasons.join("; ")
            );
        }
        if let Some((dir, name)) = &outputs.save {
            let path = result_path(&report, dir, name.as_deref(), sweep);
            let bytes = match serde_json::to_vec_pretty(&result_json(&report)) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: cannot encode the result: {e}");
                    return INFRA;
                }
            };
            if let Err(e) = write_atomic(&path, &bytes) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return INFRA;
            }
        }
        if let Some(w) = per_request.as_mut()
            && let Err(e) = write_requests_jsonl(&report, w).and_then(|()| w.flush())
        {
            eprintln!("error: cannot write the per-request file: {e}");
            return INFRA;
        }
        if !report.all_succeeded() || (outputs.fail_on_client_bound && report.health.client_bound) {
            code = FAILED;
        }
    }
    code
}

fn exit_for(e: &BenchError) -> u8 {
    match e {
        BenchError::InvalidConfig(_) | BenchError::Input { .. } => USAGE,
        BenchError::Unreachable { .. } | BenchError::BadServer { .. } | BenchError::Internal(_) => {
            INFRA
        }
    }
}

/// `--slo ... --search ...`: every step's result block and a line saying how it did, then the
/// `SLO search` section. Exit 0 with an answer, 1 when even the lowest load missed an SLO.
fn run_search_cli(
    rt: &tokio::runtime::Runtime,
    base: &BenchConfig,
    search: &crate::search::SloSearch,
) -> u8 {
    use crate::search::{fmt_load, step_line};
    let result = rt.block_on(crate::search::run_search(base, search, |step| {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let _ = write_text(&step.report, &mut out)
            .and_then(|()| writeln!(out, "{}", step_line(search.search, step)))
            .and_then(|()| out.flush());
    }));
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return exit_for(&e);
        }
    };
    let slos: Vec<String> = search.slo.iter().map(ToString::to_string).collect();
    let mut text = format!("{:-^50}\n", " SLO search ");
    let row = |t: &mut String, label: &str, value: &str| {
        t.push_str(&format!("{label:<40} {value:<10}\n"));
    };
    let over = match search.search {
        crate::search::SearchOver::Concurrency => "concurrency",
        crate::search::SearchOver::Rate => "rate",
    };
    row(&mut text, "Search over:", over);
    row(&mut text, "SLOs:", &slos.join(","));
    for s in &r.steps {
        let verdict = format!(
            "{} {}",
            fmt_load(s.load),
            if s.passed { "pass" } else { "fail" }
        );
        row(&mut text, &format!("Step {}:", s.step), &verdict);
    }
    row(&mut text, "Stopped because:", &r.stop);
    match r.answer_step() {
        Some(a) => {
            row(
                &mut text,
                "Highest load meeting the SLOs:",
                &fmt_load(a.load),
            );
            let g = a.report.metrics.request_goodput.unwrap_or(0.0);
            row(
                &mut text,
                "Request goodput at the answer (req/s):",
                &format!("{g:.2}"),
            );
            row(
                &mut text,
                "Output tokens/s at the answer:",
                &format!("{:.2}", a.report.metrics.output_throughput),
            );
        }
        None => row(&mut text, "Highest load meeting the SLOs:", "none"),
    }
    text.push_str(&"=".repeat(50));
    text.push('\n');
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    if r.answer.is_some() { OK } else { FAILED }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn parse(argv: &[&str]) -> Result<BenchArgs, clap::Error> {
        Wrap::try_parse_from(std::iter::once("bench").chain(argv.iter().copied())).map(|w| w.args)
    }

    fn cfgs(argv: &[&str]) -> Result<Vec<BenchConfig>, String> {
        configs(&parse(argv).map_err(|e| e.to_string())?).map(|(c, _)| c)
    }

    #[test]
    fn slo_search_and_workload_options() {
        let a = parse(&[
            "--slo",
            "ttft_p99<=500ms,tpot_p50<=20ms",
            "--search",
            "rate",
            "--max",
            "50",
        ])
        .unwrap();
        let (_, out) = configs(&a).unwrap();
        let s = out.search.unwrap();
        assert_eq!(
            (s.search, s.max, s.min, s.slo.len()),
            (crate::search::SearchOver::Rate, 50.0, 1.0, 2)
        );
        assert!(
            parse(&["--slo", "ttft_p99<=5"]).is_err(),
            "--search and --max are required"
        );
        assert!(
            parse(&["--search", "rate"]).is_err(),
            "--search needs --slo"
        );
        let bad = |argv: &[&str]| cfgs(argv).is_err();
        assert!(bad(&["--slo", "ttft<=5", "--search", "rate", "--max", "5"]));
        assert!(bad(&[
            "--slo",
            "ttft_p99<=5",
            "--search",
            "concurrency",
            "--max",
            "8",
            "--max-concurrency",
            "1,2"
        ]));
        let dir = tempfile::tempdir().unwrap();
        let w = dir.path().join("w.yaml");
        std::fs::write(
            &w,
            "multi_turn: {sessions: 2, turns: 2, user_len: 4, assistant_len: 4}\n",
        )
        .unwrap();
        let w = w.to_str().unwrap();
        let c = cfgs(&["--workload", w]).unwrap();
        assert!(matches!(c[0].workload, Some(crate::Workload::MultiTurn(_))));
        assert!(parse(&["--workload", w, "--random-input-len", "4"]).is_err());
        assert!(bad(&["--workload", w, "--dataset-name", "sharegpt"]));
        std::fs::write(dir.path().join("w.yaml"), "multi_turn: {sessions: 2}\n").unwrap();
        let e = cfgs(&["--workload", w]).unwrap_err();
        assert!(e.contains("w.yaml"), "{e}");
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Wrap::command().debug_assert();
    }

    #[test]
    fn upstream_style_command_line() {
        let c = cfgs(&[
            "--host",
            "h",
            "--port",
            "9",
            "--backend",
            "openai",
            "--model",
            "m",
            "--dataset-name",
            "random",
            "--random-ids",
            "--random-input-len",
            "128",
            "--random-output-len",
            "256",
            "--random-range-ratio",
            "0.8",
            "--num-prompts",
            "10",
            "--max-concurrency",
            "1,8",
            "--ignore-eos",
            "--percentile-metrics",
            "ttft,tpot,itl,e2el",
            "--metric-percentiles",
            "50,90,99.9",
            "--goodput",
            "ttft:500",
            "tpot:50",
            "--trust-remote-code",
        ])
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].base_url, "http://h:9");
        assert_eq!(c[1].max_concurrency, Some(8));
        assert_eq!(c[0].percentile_metrics, Metric::ALL.to_vec());
        assert_eq!(c[0].percentiles, vec![50.0, 90.0, 99.9]);
        assert_eq!(c[0].goodput.len(), 2);
        assert!(matches!(
            c[0].dataset,
            DatasetSpec::Random {
                input_len: 128,
                output_len: 256,
                ids: true,
                ..
            }
        ));
    }

    #[test]
    fn contradictions_are_errors() {
        for argv in [
            &["--base-url", "http://x", "--port", "1"][..],
            &["--endpoint", "/v1/completions", "--use-chat-template"],
            &["--backend", "openai-chat", "--endpoint", "/v1/completions"],
            &["--dataset-name", "jsonl"],
            &[
                "--dataset-name",
                "jsonl",
                "--dataset-path",
                "x",
                "--random-input-len",
                "3",
            ],
            &["--dataset-path", "x"],
            &["--burstiness", "2"],
            &["--request-rate", "fast"],
            &["--request-rate", "-1"],
            &["--max-concurrency", "0"],
            &["--goodput", "itl:5"],
            &["--goodput", "ttft"],
            &["--percentile-metrics", "ttft,foo"],
            &["--metric-percentiles", "0"],
            &["--result-dir", "d"],
            &["--timeout", "0"],
            &["--use-chat-template"],
            &["--no-such-option"],
            &["--random-range-ratio", "1.5"],
            &["--random-range-ratio", "-0.1"],
        ] {
            assert!(cfgs(argv).is_err(), "{argv:?} should be rejected");
        }
    }

    #[test]
    fn default_result_names() {
        let cfg = &cfgs(&["--max-concurrency", "4"]).unwrap()[0];
        let _ = cfg;
    }
}
