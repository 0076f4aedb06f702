#!/usr/bin/env bash
# Compare `servebench bench` with peer benchmark clients against one fast local server.
#
# The server (crates/loadgen/examples/fast_server.rs, single-threaded) runs pinned to one core and
# every client pinned to another. For each concurrency (64, 256, 1024) with 128-token prompts and
# 256-token outputs (ignore_eos, random token ids) the script prints, per client:
#   out tok/s   output tokens the server streamed / the server's busy window
#   req/s       requests the server served / the same window
#   cpu us/tok  the client's user+system CPU time (all its processes) / streamed tokens
#   all us/tok  the same for the whole life of the client process (start-up, preparation and
#               exit included: what a user timing the command pays)
#   +TTFT ms    client-added TTFT: the client's reported median TTFT minus the server's own median
#               TTFT, counted from the kernel's arrival stamp of the request's first byte to the
#               first event written (so a request that waited while the single-threaded server
#               served other streams is the server's time, not the client's); "n/a" when the
#               client prints none
#   +TTFT(read) the same against the server's TTFT counted from its own read of the request (the
#               definition of earlier runs: it charges the server's queueing to the client)
# A "floor" row comes first: crates/loadgen/examples/raw_floor.rs, one thread reading each socket
# when epoll says so and parsing nothing. Its CPU per token is what the kernel charges for
# receiving the tokens on this machine; no client that reads tokens as they arrive spends less.
# Two passes: "flat out" (the server streams as fast as it can: throughput and CPU) and "paced"
# (each stream gets a token every PACED_ITL_US, so the client is below saturation: added TTFT).
#
# Peers are installed from PyPI into throw-away virtualenvs under target/peerbench/; a peer that
# cannot be installed or run is reported and skipped. Environment knobs:
#   CONCURRENCIES="64 256 1024"  ROUNDS=4 (prompts = concurrency x ROUNDS, at least MIN_PROMPTS=1024)
#   PEERS="vllm sglang sglang-rust guidellm aiperf" (PEERS= for ours only)  INSTALL_TIMEOUT=900
#   RUN_TIMEOUT=600
#   SERVER_CORE=0 CLIENT_CORE=1  PACED_ITL_US=5000  PACED_CONCURRENCIES=256  SKIP_PACED=0
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/peerbench
mkdir -p "$OUT"
CONCURRENCIES=${CONCURRENCIES:-"64 256 1024"}
ROUNDS=${ROUNDS:-4}
MIN_PROMPTS=${MIN_PROMPTS:-1024}
PEERS=${PEERS-"vllm sglang sglang-rust guidellm aiperf"}
INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-900}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
PACED_ITL_US=${PACED_ITL_US:-5000}
SKIP_PACED=${SKIP_PACED:-0}
PACED_CONCURRENCIES=${PACED_CONCURRENCIES:-256}
ISL=128
OSL=256
PY=${PYTHON:-python3}
# No model hub is reachable: the Python clients must use the local tokenizer only.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1

log() { echo "[peerbench] $*" >&2; }

log "building the client and the server (release)"
cargo build --release -q -p servebench-loadgen --examples || { log "build failed"; exit 3; }
BENCH=$ROOT/target/release/examples/bench
FLOOR=$ROOT/target/release/examples/raw_floor
SERVER=$ROOT/target/release/examples/fast_server

# --- helpers --------------------------------------------------------------------------------
cat > "$OUT/measure.py" <<'PYEOF'
"""Run one client command; report server-side throughput, client CPU while it streamed, TTFT.

Client CPU is sampled from /proc for the client's process tree every 50 ms and counted from the
first request the server saw to the last sample in which the server's token count still grew,
so interpreter start-up and imports (over a minute for some peers) are not charged per token.
"""
import json, os, re, resource, subprocess, sys, time, urllib.request

base, name, conc, timeout, log_path = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
cmd = sys.argv[6:]
TICK = os.sysconf("SC_CLK_TCK")

def get(path):
    return json.loads(urllib.request.urlopen(base + path, timeout=30).read().decode() or "{}")

def tree_cpu(root):
    """user+system seconds of `root` and its descendants (via /proc/PID/task/TID/children)."""
    total, todo, seen = 0.0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            for tid in os.listdir(f"/proc/{pid}/task"):
                todo.extend(int(c) for c in open(f"/proc/{pid}/task/{tid}/children").read().split())
        except OSError:
            continue
    return total

get("/reset")
t0 = time.time()
with open(log_path, "w") as logf:
    try:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
    except FileNotFoundError as e:
        print(json.dumps({"client": name, "concurrency": int(conc), "rc": f"not found: {e}"}))
        sys.exit(0)
    start_cpu = end_cpu = None
    last_tokens = 0
    rc = None
    while rc is None:
        time.sleep(0.05)
        cpu = tree_cpu(proc.pid)
        st = get("/stats")
        if start_cpu is None and st.get("requests", 0) > 0:
            start_cpu = cpu
        if st.get("tokens", 0) > last_tokens:
            last_tokens, end_cpu = st["tokens"], cpu
        rc = proc.poll()
        if time.time() - t0 > timeout:
            proc.kill()
            rc = "timeout"
wall = time.time() - t0
# The client and everything it started, over their whole lives (this script waits for nothing else).
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu_all = ru.ru_utime + ru.ru_stime
st = get("/stats")
cpu = (end_cpu - start_cpu) if start_cpu is not None and end_cpu is not None else None
text = open(log_path, errors="replace").read()
m = re.search(r"Median TTFT \(ms\):\s+([\d.]+)", text)
ttft = float(m.group(1)) if m else None
if ttft is None:
    # AIPerf prints a table: find the p50 column in its header, then the TTFT row.
    lines = text.splitlines()
    head = next((l for l in lines if "Metric" in l and "p50" in l), None)
    row_ = next((l for l in lines if "Time to First Token (ms)" in l), None)
    if head and row_:
        cols = [c.strip() for c in re.split("[\u2503\u2502]", head)]
        vals = [c.strip() for c in re.split("[\u2503\u2502]", row_)]
        if "p50" in cols and cols.index("p50") < len(vals):
            try:
                ttft = float(vals[cols.index("p50")].replace(",", ""))
            except ValueError:
                pass
tokens, window = st.get("tokens", 0), st.get("window_s", 0) or 0
row = {
    "client": name, "concurrency": int(conc), "rc": rc, "wall_s": round(wall, 2),
    "tokens": tokens, "requests": st.get("requests", 0),
    "tok_s": round(tokens / window) if window else 0,
    "req_s": round(st.get("requests", 0) / window, 1) if window else 0,
    "cpu_s": round(cpu, 2) if cpu is not None else None,
    "cpu_us_per_tok": round(cpu * 1e6 / tokens, 3) if cpu is not None and tokens else None,
    "cpu_all_us_per_tok": round(cpu_all * 1e6 / tokens, 3) if tokens else None,
    "client_median_ttft_ms": ttft,
    "server_median_ttft_ms": round(st.get("ttft_p50_us", 0) / 1000, 3),
    "added_ttft_ms": round(ttft - st.get("ttft_p50_us", 0) / 1000, 3) if ttft is not None else None,
    "server_read_median_ttft_ms": round(st.get("ttft_read_p50_us", 0) / 1000, 3),
    "added_ttft_vs_read_ms": round(ttft - st.get("ttft_read_p50_us", 0) / 1000, 3) if ttft is not None else None,
}
print(json.dumps(row))
PYEOF

start_server() {  # $1 = per-token interval in microseconds (0 = flat out)
  stop_server
  taskset -c "$SERVER_CORE" "$SERVER" 0 "$1" > "$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 50); do grep -q listening "$OUT/server.log" && break; sleep 0.1; done
  PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$OUT/server.log")
  URL=http://127.0.0.1:$PORT
  log "server on $URL (core $SERVER_CORE, itl ${1}us)"
}
stop_server() {
  if [ -n "${SERVER_PID:-}" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  SERVER_PID=
}
trap stop_server EXIT

# A local tokenizer for the Python clients (no model hub is reachable): a word-level vocabulary
# of 32000 tokens, written by the `tokenizers` package into a Hugging Face tokenizer directory.
make_tokenizer() {
  TOK=$OUT/tokenizer
  [ -f "$TOK/tokenizer.json" ] && return 0
  local venv=$OUT/venv-tok
  [ -x "$venv/bin/python" ] || { $PY -m venv "$venv" && timeout "$INSTALL_TIMEOUT" "$venv/bin/pip" install -q tokenizers; } || return 1
  mkdir -p "$TOK"
  "$venv/bin/python" - "$TOK" <<'PYEOF'
import json, sys
from tokenizers import Tokenizer, models, pre_tokenizers, decoders
d = sys.argv[1]
vocab = {f"w{i}": i for i in range(32000)}
vocab["<unk>"] = 32000
t = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
t.decoder = decoders.WordPiece(prefix="##")
t.save(f"{d}/tokenizer.json")
json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "<unk>", "model_max_length": 1000000,
           "bos_token": None, "eos_token": "<unk>"}, open(f"{d}/tokenizer_config.json", "w"))
json.dump({"model_type": "llama", "vocab_size": 32001}, open(f"{d}/config.json", "w"))
PYEOF
}

declare -A STATUS
install_peer() {  # $1 = peer; sets STATUS[$1]; venv in target/peerbench/venv-$1
  local p=$1 venv=$OUT/venv-$1 pip
  case $p in sglang*) [ -L "$venv" ] || rm -rf "$venv" ;; esac
  [ -f "$venv/.ok" ] && [ ! -L "$venv" ] && { STATUS[$p]=installed; return 0; }
  [ -L "$venv" ] && [ -f "$venv/.ok-$p" ] && { STATUS[$p]=installed; return 0; }
  rm -rf "$venv"; $PY -m venv "$venv" || { STATUS[$p]="venv failed"; return 1; }
  pip="timeout $INSTALL_TIMEOUT $venv/bin/pip install -q --disable-pip-version-check"
  case $p in
    vllm) $pip "vllm==0.32.0" > "$OUT/install-$p.log" 2>&1 ;;
    sglang|sglang-rust)
      # sglang/__init__ imports torch even for the benchmark clients: install the wheel without
      # its dependencies into the vLLM virtualenv, which has torch, plus the few modules the
      # clients import.
      if [ ! -f "$OUT/venv-vllm/.ok" ]; then STATUS[$p]="not installed: needs torch from the vllm venv, which failed"; return 1; fi
      rm -rf "$venv"; ln -s "$OUT/venv-vllm" "$venv"
      pip="timeout $INSTALL_TIMEOUT $venv/bin/pip install -q --disable-pip-version-check"
      { $pip --no-deps "sglang==0.5.23" && $pip psutil orjson IPython datasets gguf; } > "$OUT/install-$p.log" 2>&1 ;;
    guidellm) $pip "guidellm==0.8.1" > "$OUT/install-$p.log" 2>&1 ;;
    aiperf) $pip "aiperf==0.13.0" > "$OUT/install-$p.log" 2>&1 ;;
    *) STATUS[$p]="unknown peer"; return 1 ;;
  esac
  local rc=$?
  if [ $rc -ne 0 ]; then
    STATUS[$p]="not installed (pip exit $rc, see target/peerbench/install-$p.log: $(tail -n 1 "$OUT/install-$p.log" | cut -c1-120))"
    return 1
  fi
  if [ -L "$venv" ]; then touch "$venv/.ok-$p"; else touch "$venv/.ok"; fi
  STATUS[$p]=installed
}

peer_cmd() {  # $1 = client, $2 = concurrency, $3 = prompts -> command on stdout (one word per line)
  local c=$2 n=$3 v=$OUT/venv-$1/bin
  case $1 in
    floor) printf '%s\n' "$FLOOR" "$URL" "$c" "$n" $ISL $OSL ;;
    servebench) printf '%s\n' "$BENCH" --base-url "$URL" --model fast --dataset-name random --random-ids \
        --random-input-len $ISL --random-output-len $OSL --num-prompts "$n" --max-concurrency "$c" \
        --ignore-eos --threads 1 --percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,99 ;;
    vllm) printf '%s\n' "$v/vllm" bench serve --backend openai --base-url "$URL" --endpoint /v1/completions \
        --model fast --tokenizer "$TOK" --dataset-name random --random-input-len $ISL --random-output-len $OSL \
        --num-prompts "$n" --max-concurrency "$c" --ignore-eos --disable-tqdm ;;
    sglang) printf '%s\n' "$v/python" -m sglang.benchmark.serving --backend vllm --base-url "$URL" --model "$TOK" \
        --served-model-name fast --tokenizer "$TOK" --dataset-name random-ids --random-input-len $ISL \
        --random-output-len $OSL --random-range-ratio 1 --num-prompts "$n" --max-concurrency "$c" --disable-tqdm \
        --output-file "$OUT/sglang-$c.jsonl" ;;
    sglang-rust) printf '%s\n' "$v/python" -m sglang.benchmark.rust_client --backend vllm --base-url "$URL" \
        --model "$TOK" --served-model-name fast --tokenizer "$TOK" --dataset-name random-ids \
        --random-input-len $ISL --random-output-len $OSL --random-range-ratio 1 --num-prompts "$n" \
        --max-concurrency "$c" --disable-tqdm --output-file "$OUT/sglang-rust-$c.jsonl" ;;
    guidellm) printf '%s\n' "$v/guidellm" run --backend "kind=openai_http,target=$URL,model=$TOK" \
        --profile "kind=concurrent,streams=$c" --constraint "kind=max_requests,count=$n" \
        --data "kind=synthetic_text,prompt_tokens=$ISL,output_tokens=$OSL" \
        --output "kind=json,path=$OUT/guidellm-$c.json" --disable-console-interactive ;;
    # AIPerf 0.13.0 in Hugging Face offline mode resolves a tokenizer only through the hub cache
    # and rejects a local directory (HFValidationError); outside offline mode it loads the local
    # directory without touching the network.
    aiperf) printf '%s\n' env -u HF_HUB_OFFLINE -u TRANSFORMERS_OFFLINE -u HF_DATASETS_OFFLINE "$v/aiperf" profile --model fast --url "$URL" --endpoint-type completions --streaming \
        --tokenizer "$TOK" --concurrency "$c" --request-count "$n" --synthetic-input-tokens-mean $ISL \
        --output-tokens-mean $OSL --extra-inputs ignore_eos:true --artifact-dir "$OUT/aiperf-$c" ;;
  esac
}

run_pass() {  # $1 = pass name, $2 = itl_us, $3 = concurrencies
  start_server "$2"
  for c in $3; do
    local n=$((c * ROUNDS)); [ $n -lt "$MIN_PROMPTS" ] && n=$MIN_PROMPTS
    for client in floor servebench $PEERS; do
      if [ "$client" != servebench ] && [ "$client" != floor ] && [ "${STATUS[$client]:-}" != installed ]; then continue; fi
      mapfile -t cmd < <(peer_cmd "$client" "$c" "$n")
      log "$1: $client c=$c n=$n"
      taskset -c "$CLIENT_CORE" "$PY" "$OUT/measure.py" "$URL" "$client" "$c" "$RUN_TIMEOUT" \
        "$OUT/run-$1-$client-$c.log" taskset -c "$CLIENT_CORE" "${cmd[@]}" | tee -a "$OUT/results-$1.jsonl"
    done
  done
  stop_server
}

# --- main -----------------------------------------------------------------------------------
: > "$OUT/results-flat.jsonl"; : > "$OUT/results-paced.jsonl"
if [ -n "$PEERS" ]; then
  if make_tokenizer; then
    for p in $PEERS; do log "installing $p"; install_peer "$p" || log "$p: ${STATUS[$p]}"; done
  else
    log "cannot build the local tokenizer the Python clients need: peers skipped"
    for p in $PEERS; do STATUS[$p]="skipped: no local tokenizer"; done
  fi
fi
run_pass flat 0 "$CONCURRENCIES"
[ "$SKIP_PACED" = 1 ] || run_pass paced "$PACED_ITL_US" "$PACED_CONCURRENCIES"

echo
echo "Peers:"
for p in $PEERS; do echo "  $p: ${STATUS[$p]:-not tried}"; done
for pass in flat paced; do
  [ -s "$OUT/results-$pass.jsonl" ] || continue
  echo
  echo "Pass: $pass (server core $SERVER_CORE, client core $CLIENT_CORE; ISL $ISL, OSL $OSL)"
  "$PY" - "$OUT/results-$pass.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{'client':<12} {'conc':>5} {'out tok/s':>10} {'req/s':>8} {'cpu us/tok':>10} {'all us/tok':>10} {'+TTFT ms':>9} {'+TTFT(read)':>11}  exit")
for r in rows:
    f = lambda v, fmt: format(v, fmt) if isinstance(v, (int, float)) else "n/a"
    print(f"{r['client']:<12} {r['concurrency']:>5} {f(r['tok_s'], ',d'):>10} {f(r['req_s'], '.1f'):>8} "
          f"{f(r['cpu_us_per_tok'], '.3f'):>10} {f(r.get('cpu_all_us_per_tok'), '.3f'):>10} {f(r['added_ttft_ms'], '.3f'):>9} "
          f"{f(r.get('added_ttft_vs_read_ms'), '.3f'):>11}  {r['rc']}")
PYEOF
done
