#!/usr/bin/env bash
# Mutation testing (mutmut 3) of the security- and data-critical modules. Not part of scripts/test.sh: it runs
# the unit tests once per mutant, which takes minutes to an hour per group on a busy 2-core machine.
#
#   bash scripts/mutation.sh [GROUP ...]     groups: http http_io ratelimit lifecycle batch_join batch_follow vector_sync waiting redaction
#                                            (default: all, in that order)
#
# Each group runs in a copy of the repository (build/mutation/<group>/: the package, tests, docs and a
# pyproject.toml whose [tool.mutmut] names the files to mutate and the unit tests that cover them), so nothing in
# the working tree changes. A group gets MUTATION_TIMEOUT seconds (default 1800); when they run out, the mutants
# not yet tried count as "not checked". Results: build/mutation/<group>/results.txt (every mutant and its fate)
# and one summary line per module on stdout: mutants, killed, survived, timeout, not checked.
# MUTATION_RESUME=1 continues a group's earlier run where its time bound stopped it (mutmut tries only the mutants
# not yet checked); the copy is not refreshed, so use it only while the group's files are unchanged.
# MUTATION_CHILDREN (default 2): mutants tried at once.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
TIMEOUT=${MUTATION_TIMEOUT:-1800}
CHILDREN=${MUTATION_CHILDREN:-2}
"$PY" -c "import mutmut" 2>/dev/null || "$ROOT/.venv/bin/pip" install -q "mutmut>=3.3"

# group -> "files to mutate (globs)|unit tests that exercise them"
declare -A SETS=(
    [http]="airflow_provider_openai_fusion/_http/request.py airflow_provider_openai_fusion/_http/redaction.py \
airflow_provider_openai_fusion/_http/hosts.py airflow_provider_openai_fusion/_http/errors.py \
airflow_provider_openai_fusion/_http/retry.py airflow_provider_openai_fusion/_http/pagination.py\
|tests/unit/test_request_checks.py tests/unit/test_redaction.py tests/unit/test_core.py tests/unit/test_transport.py \
tests/unit/test_hook.py tests/unit/test_connection.py tests/unit/test_server_tricks.py tests/unit/test_uploads.py \
tests/unit/test_file_range.py"
    [redaction]="airflow_provider_openai_fusion/_http/redaction.py|tests/unit/test_redaction.py \
tests/unit/test_server_tricks.py tests/unit/test_hook.py"
    [http_io]="airflow_provider_openai_fusion/_http/transport.py airflow_provider_openai_fusion/_http/deadline.py\
|tests/unit/test_transport.py tests/unit/test_hook.py tests/unit/test_redaction.py tests/unit/test_core.py \
tests/unit/test_uploads.py"
    [ratelimit]="airflow_provider_openai_fusion/_http/ratelimit.py|tests/unit/test_ratelimit.py tests/unit/test_ratelimit_headers.py \
tests/unit/test_ratelimit_edges.py"
    [lifecycle]="airflow_provider_openai_fusion/model_lifecycle.py|tests/unit/test_model_lifecycle.py \
tests/unit/test_model_lifecycle_edges.py tests/unit/test_live_models.py tests/unit/test_models_report.py \
tests/unit/test_model_checks_in_operators.py tests/unit/test_model_currency.py tests/unit/test_request_checks.py"
    [batch_join]="airflow_provider_openai_fusion/operators/_batch_results.py|tests/unit/test_batch_join.py \
tests/unit/test_batch_output.py tests/unit/test_batch_counts.py tests/unit/test_results_operators.py \
tests/unit/test_batches_operator.py"
    [batch_follow]="airflow_provider_openai_fusion/operators/_batch_follow.py|tests/unit/test_batch_join.py \
tests/unit/test_transport.py"
    [vector_sync]="airflow_provider_openai_fusion/api/vector_stores.py|tests/unit/test_vector_stores_operator.py \
tests/unit/test_sync_plan_status.py tests/unit/test_vector_store_requests.py"
    [waiting]="airflow_provider_openai_fusion/_waiting.py|tests/unit/test_wait_deadlines.py \
tests/unit/test_fine_tuning_wait.py tests/unit/test_batches_operator.py tests/unit/test_responses_operator.py"
)
ORDER=(http http_io ratelimit lifecycle batch_join batch_follow vector_sync waiting)
# redaction: a quick re-run of redaction.py alone (it is in http too)

# A fresh copy of the repository for one group, with the group's [tool.mutmut] settings.
setup_group() {
    local globs=$1 tests=$2 work=$3
    rm -rf "$work" && mkdir -p "$work"
    cp -r airflow_provider_openai_fusion tests docs example_dags dev README.md "$work/"
    cp scripts/mutation_plugin.py "$work/tests/mutation_plugin.py"
    find "$work" -name __pycache__ -prune -exec rm -rf {} +
    {
        sed '/^\[tool.mutmut\]/,$d' pyproject.toml
        echo '[tool.mutmut]'
        echo 'source_paths = ["airflow_provider_openai_fusion"]'
        printf 'only_mutate = [%s]\n' "$(printf '"%s",' $globs | sed 's/,$//')"
        printf 'pytest_add_cli_args_test_selection = [%s]\n' "$(printf '"%s",' $tests | sed 's/,$//')"
        # the CLI round trip (a subprocess per run) tests the connection form, not the mutated modules
        local cli=tests/unit/test_connection.py::test_a_connection_added_with_the_cli_is_usable
        echo "pytest_add_cli_args = [\"-p\", \"no:cacheprovider\", \"-p\", \"tests.mutation_plugin\", \"-q\", \"--deselect\", \"$cli\"]"
        echo 'also_copy = ["dev", "docs", "example_dags", "README.md"]'
        echo 'use_git_change_detection = false'
        # a mutant whose tests run past 5 times their usual time (plus 1 s) is a timeout; mutmut's default of 15
        # spent most of a group's time bound waiting on the wait loop's and the join's hanging mutants
        echo 'timeout_multiplier = 5.0'
    } >"$work/pyproject.toml"
}

run_group() {
    local group=$1 spec=${SETS[$1]}
    local globs=${spec%%|*} tests=${spec#*|}
    local work=$ROOT/build/mutation/$group
    if [[ -n ${MUTATION_RESUME:-} && -d $work/mutants ]]; then
        echo "== $group: resuming the run in $work (mutants already tried keep their fate), at most ${TIMEOUT}s"
    else
        setup_group "$globs" "$tests" "$work"
        echo "== $group: mutating $globs (tests: $tests), at most ${TIMEOUT}s"
    fi
    (cd "$work" && timeout --signal=INT --kill-after=30 "$TIMEOUT" "$PY" -m mutmut run --max-children "$CHILDREN" \
        >>run.log 2>&1) || echo "   (mutmut stopped: exit $?; see $work/run.log)"
    (cd "$work" && "$PY" -m mutmut results --all true >results.txt 2>/dev/null) || true
    "$PY" - "$work/results.txt" <<'EOF'
import collections, re, sys
counts = collections.defaultdict(collections.Counter)
for line in open(sys.argv[1]):
    match = re.match(r"\s*([\w.]+?)\.x[ŁǁΔ_]?\w*?__mutmut_\d+: (.+)", line)
    if match:
        counts[match.group(1)][match.group(2).strip()] += 1
for module, fates in sorted(counts.items()):
    total = sum(fates.values())
    print(f"   {module}: {total} mutants, {fates['killed']} killed, {fates['survived']} survived, "
          f"{fates['timeout']} timeout, {fates['not checked']} not checked"
          + "".join(f", {n} {fate}" for fate, n in fates.items()
                    if fate not in ("killed", "survived", "timeout", "not checked")))
EOF
}

for group in "${@:-${ORDER[@]}}"; do
    [[ -n ${SETS[$group]:-} ]] || { echo "unknown group $group; known: ${ORDER[*]}" >&2; exit 2; }
    run_group "$group"
done
