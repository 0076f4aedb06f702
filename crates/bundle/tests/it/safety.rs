//! Shell safety (SPEC 6.1, 16): strings with spaces, quotes, `$(...)`, backticks, newlines and
//! globs pass through every generated script and command line literally.

use std::collections::BTreeMap;
use std::process::Command;

use proptest::prelude::*;
use servebench_bundle::RenderOptions;
use servebench_bundle::shell::{join, quote};
use servebench_config::profile::Profile;

use crate::{case, render};

const BASE: &str = "metadata: {model_name: m}\nhardware: {gpus_per_node: 4, num_ctx_servers: 1, num_gen_servers: 1}\n\
benchmark: {concurrency_list: '2', input_length: 64, output_length: 64}\n\
accuracy: {enable_accuracy_test: true, tasks: {gsm8k: {model: local-completions, model_args_extra: 'x=1'}}}\n\
worker_config:\n  ctx: {tensor_parallel_size: 1, max_seq_len: 128}\n  gen: {tensor_parallel_size: 1, max_batch_size: 8, max_seq_len: 128}\n";

fn bash(script: &str, dir: &std::path::Path) -> std::process::Output {
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn nul_split(out: &[u8]) -> Vec<String> {
    let text = String::from_utf8(out.to_vec()).unwrap();
    let mut v: Vec<String> = text.split('\0').map(str::to_string).collect();
    assert_eq!(v.pop().as_deref(), Some(""));
    v
}

fn nasty() -> impl Strategy<Value = String> {
    let frag = prop::sample::select(vec![
        " ",
        "'",
        "\"",
        "$(echo PWNED)",
        "`echo PWNED`",
        "\n",
        "*",
        "?",
        "[ab]",
        "\\",
        "$HOME",
        ";",
        "&&",
        "|",
        "#",
        "~",
        "!",
        "é",
        "%",
        "a",
        "model dir",
        "${x:-y}",
        "\t",
        "--flag=",
    ]);
    prop::collection::vec(frag, 1..7).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn hostile_strings_pass_through_literally(s in nasty()) {
        let dir = tempfile::tempdir().unwrap();
        let mut c = case("safe", BASE);
        c.config.environment.values.insert("model_path".into(), s.clone());
        c.config.environment.values.insert("worker_env_var".into(), format!("NASTY={}", quote(&s)));
        c.config.slurm.job_name = Some(s.clone());
        let profile = Profile { servebench_bin: Some(s.clone()), ..Default::default() };
        let b = render(&c, &RenderOptions { profile: Some(profile), skip_dataset_check: true, ..Default::default() });
        let spec = &b.launch;

        // Every argv survives a round trip through the shell.
        let mut argvs: Vec<&Vec<String>> = spec.servers.iter().map(|p| &p.argv).collect();
        argvs.extend(spec.benchmark.iter().map(|r| &r.step.argv));
        argvs.extend(spec.accuracy.iter().map(|r| &r.argv));
        for argv in argvs {
            let out = bash(&format!("printf '%s\\0' {}", join(argv)), dir.path());
            prop_assert_eq!(&nul_split(&out.stdout), argv);
        }
        prop_assert!(spec.servers[0].argv.contains(&s));

        // Scripts parse; commands.sh lines give back env and argv unchanged.
        for name in ["commands.sh", "job.sbatch"] {
            let path = dir.path().join(name);
            std::fs::write(&path, &b.file(name).unwrap().contents).unwrap();
            let out = Command::new("bash").arg("-n").arg(&path).output().unwrap();
            prop_assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let commands = &b.file("commands.sh").unwrap().contents;
        let start = commands.find("\nenv ").unwrap() + 1;
        let end = commands.find(" >>logs/3_output_GEN_0.log").unwrap();
        let cmd = &commands[start..end];
        let out = bash(&format!("env() {{ printf '%s\\0' \"$@\"; }}\n{cmd}"), dir.path());
        let mut expected: Vec<String> = spec.servers[0].env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        expected.extend(spec.servers[0].argv.iter().cloned());
        prop_assert_eq!(nul_split(&out.stdout), expected);

        // The environment file gives the value back.
        let env_path = dir.path().join("gen.env");
        std::fs::write(&env_path, &b.file("env/GEN_0.env").unwrap().contents).unwrap();
        let out = bash("set -eu; source ./gen.env; printf '%s' \"$NASTY\"", dir.path());
        prop_assert_eq!(String::from_utf8(out.stdout).unwrap(), s.clone());
        let env: &BTreeMap<String, String> = &spec.servers[0].env;
        prop_assert_eq!(&env["NASTY"], &s);

        // The batch script: directives stay comments, the binary name is passed literally.
        let script = &b.file("job.sbatch").unwrap().contents;
        let head: Vec<&str> = script.lines().take_while(|l| !l.starts_with("set -euo")).collect();
        prop_assert!(head.iter().all(|l| l.starts_with('#')), "{head:?}");
        let probe = script.replace("exec \"$bin\" job exec .", "printf '%s' \"$bin\"");
        let out = bash(&probe, dir.path());
        prop_assert!(out.status.success());
        prop_assert_eq!(String::from_utf8(out.stdout).unwrap(), s.clone());
        prop_assert!(!dir.path().join("PWNED").exists());
    }
}
