#!/bin/sh
# The script every clusterkit install pod runs (embedded by installpod.go, passed to
# /bin/sh -c unchanged). All inputs come from the environment the pod spec sets:
#   CLUSTERKIT_ACTION   install (helm upgrade --install) or uninstall
#   RELEASE_NAME, RELEASE_NAMESPACE
#   CHART_REPOSITORY    https://... chart repository, or oci://... registry path
#   CHART_NAME, CHART_VERSION
#   REPOSITORY_USERNAME with $CONFIG_DIR/repository-password (from the values Secret):
#                       basic auth for the repository or registry; the password reaches
#                       helm on its standard input only
#   REPOSITORY_CREDENTIALS_SECRET instead: the name of the user's Secret whose keys
#                       username and password the kubelet mounted as
#                       $CONFIG_DIR/repository-username and repository-password
#   $CONFIG_DIR/repository-ca.crt, when present: helm's --ca-file for the repository
#   VERIFY              true: --verify --keyring $CONFIG_DIR/repository-keyring.gpg
#   HELM_TIMEOUT        helm's --timeout, e.g. 480s
#   CREATE_NAMESPACE    true: pass --create-namespace
#   VALUES_FILES        N: values-1.yaml ... values-N.yaml follow values.yaml (helm merges
#                       the -f files in order, later ones overriding earlier ones)
#   helm's switches, true or false unless said otherwise (unset: as before they existed):
#   WAIT (true)         --wait
#   WAIT_FOR_JOBS       --wait-for-jobs
#   ROLLBACK_ON_FAILURE (true) Helm 4's --rollback-on-failure, Helm 3's --atomic
#   CLEANUP_ON_FAIL (true) --cleanup-on-fail
#   SKIP_CRDS           --skip-crds
#   HISTORY_MAX         --history-max N (a number; unset: helm's default)
#   TAKE_OWNERSHIP      --take-ownership (Helm 3.17 or later; with Helm 4 also
#                       --force-conflicts, unless the release was applied client-side)
#   FORCE_CONFLICTS     set back fields another field manager changed (kubectl edit): Helm 4's
#                       --force-conflicts, unless the release was applied client-side; Helm 3's
#                       three-way merge (and Helm 4's client-side one) sets them back without it
#   DEPENDENCY_UPDATE   --dependency-update, on the chart pulled and unpacked first (helm pull
#                       --untar into $TMPDIR/clusterkit-chart): helm updates no packaged chart
#   CONFIG_DIR          values.yaml, secret-values.yaml (when there are sensitive values)
#                       and the catalog's steps: step-<phase>-<NN>.sh, run in order with
#                       sh -e (phases pre-install, post-install, pre-uninstall)
# Stuck releases: when `helm upgrade --install` is refused (exit 1) and the release's latest
# revision is pending (pending-install, pending-upgrade, pending-rollback: an earlier helm was
# killed mid-operation, its node lost), the script clears it with helm's own commands: a
# pending first install is uninstalled, a pending upgrade or rollback is rolled back to the
# last deployed revision (forcing conflicts when the upgrade would: forces_conflicts); then
# it runs the upgrade again. Each recovery prints the line
#   clusterkit: recovered: <what was done>
# which, once the install succeeded, also goes to the termination message
# (/dev/termination-log, the API's default terminationMessagePath) for the provider to report.
# A helm that this pod's own signal stopped is not retried: the next run recovers.
# The shell is PID 1 in its container: without a handler it would ignore SIGTERM and
# the kubelet's SIGKILL would end helm mid-operation, leaving the release pending. The
# trap passes TERM/INT on to helm, which then rolls back within the grace period.

# Where the recoveries are reported; CLUSTERKIT_TERMINATION_LOG is for the script's tests.
termination_log=${CLUSTERKIT_TERMINATION_LOG:-/dev/termination-log}

say() { printf 'clusterkit: %s\n' "$*"; }
die() {
  printf 'clusterkit: %s\n' "$1" >&2
  exit "${2:-1}"
}

child=
signalled=
forward() {
  signalled=1
  if [ -n "$child" ]; then
    say "signal received: passing it on to pid $child"
    kill -TERM "$child" 2>/dev/null
  fi
}
trap forward TERM INT

# run CMD...: CMD runs in the background while this shell waits, so that a signal reaches
# the trap (a shell in the foreground of a child defers traps until the child ends).
run() {
  "$@" &
  child=$!
  while :; do
    wait "$child"
    status=$?
    # Above 128 the wait was cut short by a signal; the child is then still winding down.
    if [ "$status" -gt 128 ] && kill -0 "$child" 2>/dev/null; then
      continue
    fi
    break
  done
  if [ "$status" -gt 128 ]; then
    # The child ended right after the signal: its own status is still to be collected.
    wait "$child" 2>/dev/null
    own=$?
    [ "$own" -eq 127 ] || status=$own
  fi
  child=
  return "$status"
}

# release_state HISTORY prints "<latest revision> <its status> <last deployed revision, or 0>"
# from `helm history -o json` (one JSON line), in plain sh: the images have no jq, and the
# local stack's pods not even awk. Every entry starts {"revision":N, with "status" after N
# and an optional "updated" (a timestamp) before every free-text field, and no JSON string
# can hold {" unescaped. Prints nothing when the history has no entry.
release_state() {
  rest=$1 latest=0 latest_status='' deployed=0
  while :; do
    case "$rest" in
      *'{"revision":'*) rest=${rest#*'{"revision":'} ;;
      *) break ;;
    esac
    rev=${rest%%[!0-9]*}
    entry=${rest#"$rev"}
    case "$entry" in
      ',"updated":"'*) entry=${entry#',"updated":"'*'",'} ;;
      *) entry=${entry#,} ;;
    esac
    case "$entry" in
      '"status":"'*)
        st=${entry#'"status":"'}
        st=${st%%'"'*}
        ;;
      *) continue ;;
    esac
    [ -n "$rev" ] || continue
    if [ "$rev" -gt "$latest" ]; then
      latest=$rev latest_status=$st
    fi
    if [ "$st" = deployed ] && [ "$rev" -gt "$deployed" ]; then
      deployed=$rev
    fi
  done
  if [ "$latest" -gt 0 ]; then
    printf '%s %s %s\n' "$latest" "$latest_status" "$deployed"
  fi
}

recoveries=
recovered() {
  say "recovered: $1"
  recoveries="${recoveries}clusterkit: recovered: $1
"
}

# forces_conflicts [REVISION]: whether helm's apply of the release gets --force-conflicts
# (the upgrade's, or a rollback's to REVISION: helm applies a rollback the way its target
# was applied, an upgrade the way the latest revision was). Helm 4 applies server-side,
# where a field another field manager set (kubectl edit, or an object being adopted) is a
# conflict: forced, the chart's values win, as with Helm 3's three-way merge. Only when
# asked (TAKE_OWNERSHIP, FORCE_CONFLICTS), and not for a release applied client-side (by
# Helm 3): helm applies it client-side again, and refuses the flag.
forces_conflicts() {
  [ -z "$helm_minor" ] || return 1
  [ "${TAKE_OWNERSHIP:-false}" = true ] || [ "${FORCE_CONFLICTS:-false}" = true ] || return 1
  meta=$(helm get metadata "$RELEASE_NAME" --namespace "$RELEASE_NAMESPACE" ${1:+--revision "$1"} -o json 2>/dev/null) || meta=
  case "$meta" in
    '' | *'"applyMethod":"ssa"'*) return 0 ;;
  esac
  return 1
}

# recover_pending, after a failed helm upgrade --install: returns 0 once a release left
# pending is cleared (the caller runs the upgrade again), 1 when it is not pending (the
# failure was something else); dies when it cannot clear it.
recover_pending() {
  history=$(helm history "$RELEASE_NAME" --namespace "$RELEASE_NAMESPACE" -o json 2>/dev/null) || return 1
  state=$(release_state "$history")
  [ -n "$state" ] || return 1
  read -r latest pending deployed <<EOF
$state
EOF
  case "$pending" in
    pending-install)
      say "release $RELEASE_NAME is left $pending at revision $latest (an earlier helm was stopped mid-operation): uninstalling it, then installing again"
      run helm uninstall "$RELEASE_NAME" --namespace "$RELEASE_NAMESPACE" --wait --timeout "$HELM_TIMEOUT" ||
        die "cannot recover: helm uninstall of release $RELEASE_NAME, left $pending at revision $latest, failed" "$?"
      recovered "uninstalled $pending revision $latest"
      ;;
    pending-upgrade | pending-rollback)
      if [ "$deployed" -eq 0 ]; then
        die "cannot recover: release $RELEASE_NAME is left $pending at revision $latest and has no deployed revision to roll back to; roll it back by hand (helm rollback $RELEASE_NAME <revision> -n $RELEASE_NAMESPACE) or uninstall it" 1
      fi
      say "release $RELEASE_NAME is left $pending at revision $latest (an earlier helm was stopped mid-operation): rolling it back to revision $deployed, the last deployed one"
      set -- --namespace "$RELEASE_NAMESPACE" --timeout "$HELM_TIMEOUT"
      if forces_conflicts "$deployed"; then
        say "forcing server-side apply conflicts in the rollback, as in the upgrade"
        set -- "$@" --force-conflicts
      fi
      run helm rollback "$RELEASE_NAME" "$deployed" "$@" ||
        die "cannot recover: helm rollback of release $RELEASE_NAME, left $pending at revision $latest, to revision $deployed failed" "$?"
      recovered "rolled back $pending revision $latest to revision $deployed"
      ;;
    *) return 1 ;;
  esac
}

run_steps() {
  for step in "$CONFIG_DIR"/step-"$1"-*.sh; do
    [ -f "$step" ] || continue
    say "$1 step ${step##*/}"
    run sh -e "$step" || die "$1 step ${step##*/} failed" "$?"
  done
}

: "${CLUSTERKIT_ACTION:?is not set}" "${RELEASE_NAME:?is not set}" "${RELEASE_NAMESPACE:?is not set}" \
  "${HELM_TIMEOUT:?is not set}" "${CONFIG_DIR:?is not set}"

# check_helm: which helm this image has, from the binary that is here, not from the
# image's tag; an image without Helm 3 or 4 is refused. Helm 4 renamed --atomic to
# --rollback-on-failure, and the install's other flags depend on it too.
check_helm() {
  helm_version=$(helm version --template '{{.Version}}' 2>/dev/null) || die "helm does not run in this image" 127
  case "$helm_version" in
    v3.*)
      rollback=--atomic
      helm_minor=${helm_version#v3.}
      helm_minor=${helm_minor%%.*}
      ;;
    v4.*)
      rollback=--rollback-on-failure
      helm_minor=
      ;;
    *) die "helm $helm_version is not supported: the install image needs Helm 3 or 4" 2 ;;
  esac
}

case "$CLUSTERKIT_ACTION" in
  install)
    check_helm
    say "helm $helm_version"
    : "${CHART_REPOSITORY:?is not set}" "${CHART_NAME:?is not set}" "${CHART_VERSION:?is not set}"
    password_file="$CONFIG_DIR/repository-password"
    ca_file="$CONFIG_DIR/repository-ca.crt"
    keyring_file="$CONFIG_DIR/repository-keyring.gpg"
    as_user="as ${REPOSITORY_USERNAME:-}"
    if [ -n "${REPOSITORY_CREDENTIALS_SECRET:-}" ]; then
      # Printed as an Error: line, so the provider's diagnostic shows it.
      for key in username password; do
        if [ ! -s "$CONFIG_DIR/repository-$key" ]; then
          printf 'Error: the repository credentials Secret %s has no key "%s" (or is empty there): it needs the keys username and password\n' \
            "$REPOSITORY_CREDENTIALS_SECRET" "$key" >&2
          die "repository credentials missing" 2
        fi
      done
      # The first line; read fails on a file without a final newline but sets the variable.
      IFS= read -r REPOSITORY_USERNAME <"$CONFIG_DIR/repository-username" || [ -n "$REPOSITORY_USERNAME" ]
      as_user="with the credentials of Secret $REPOSITORY_CREDENTIALS_SECRET"
    fi
    # helm's --ca-file (and none when absent), for the commands that reach the repository.
    if [ -f "$ca_file" ]; then
      set -- --ca-file "$ca_file"
      say "trusting the repository CA of $ca_file"
    else
      set --
    fi
    case "$CHART_REPOSITORY" in
      oci://*)
        chart="${CHART_REPOSITORY%/}/$CHART_NAME"
        if [ -f "$password_file" ]; then
          registry=${CHART_REPOSITORY#oci://}
          registry=${registry%%/*}
          say "logging in to registry $registry $as_user"
          # In the foreground: a background job's standard input would be /dev/null.
          helm registry login "$registry" --username "${REPOSITORY_USERNAME:?is not set}" --password-stdin "$@" <"$password_file" ||
            die "helm registry login to $registry failed" "$?"
        fi
        ;;
      *)
        if [ -f "$password_file" ]; then
          say "adding chart repository $CHART_REPOSITORY $as_user"
          helm repo add clusterkit "$CHART_REPOSITORY" --username "${REPOSITORY_USERNAME:?is not set}" --password-stdin "$@" <"$password_file" ||
            die "helm repo add $CHART_REPOSITORY failed" "$?"
          chart="clusterkit/$CHART_NAME"
        else
          chart=$CHART_NAME
          set -- "$@" --repo "$CHART_REPOSITORY"
        fi
        ;;
    esac
    if [ "${VERIFY:-false}" = true ]; then
      [ -s "$keyring_file" ] || die "VERIFY is true but $keyring_file is missing" 2
      say "verifying the chart's provenance against the keyring"
      set -- "$@" --verify --keyring "$keyring_file"
    fi
    if [ "${DEPENDENCY_UPDATE:-false}" = true ]; then
      # helm fetches missing dependencies only into a chart directory: given a chart from a
      # repository, helm 3 and 4 refuse --dependency-update ("only unpacked charts can be
      # updated"). So the chart is pulled (and verified) and unpacked first, then installed
      # from its directory; the repository's flags are spent, its CA stays for the
      # dependencies' downloads.
      chart_dir="${TMPDIR:-/tmp}/clusterkit-chart"
      say "pulling $chart $CHART_VERSION to fetch its dependencies"
      run helm pull "$chart" "$@" --version "$CHART_VERSION" --untar --untardir "$chart_dir" ||
        die "helm pull $chart failed" "$?"
      chart="$chart_dir/$CHART_NAME"
      [ -f "$chart/Chart.yaml" ] || die "helm pull unpacked no chart directory $chart" 2
      if [ -f "$ca_file" ]; then
        set -- --ca-file "$ca_file"
      else
        set --
      fi
    fi
    set -- "$@" --namespace "$RELEASE_NAMESPACE" --version "$CHART_VERSION"
    # Each switch is one fixed word; only its on/off comes from the environment.
    [ "${ROLLBACK_ON_FAILURE:-true}" != true ] || set -- "$@" "$rollback"
    [ "${CLEANUP_ON_FAIL:-true}" != true ] || set -- "$@" --cleanup-on-fail
    [ "${WAIT:-true}" != true ] || set -- "$@" --wait
    [ "${WAIT_FOR_JOBS:-false}" != true ] || set -- "$@" --wait-for-jobs
    set -- "$@" --timeout "$HELM_TIMEOUT"
    if [ -n "${HISTORY_MAX:-}" ]; then
      case "$HISTORY_MAX" in
        *[!0-9]*) die "HISTORY_MAX $HISTORY_MAX is not a number" 2 ;;
      esac
      set -- "$@" --history-max "$HISTORY_MAX"
    fi
    [ "${SKIP_CRDS:-false}" != true ] || set -- "$@" --skip-crds
    if [ "${TAKE_OWNERSHIP:-false}" = true ] && [ -n "$helm_minor" ]; then
      case "$helm_minor" in
        '' | *[!0-9]*) helm_minor=0 ;;
      esac
      [ "$helm_minor" -ge 17 ] ||
        die "take_ownership needs helm 3.17 or later (or Helm 4); this image has helm $helm_version" 2
    fi
    if forces_conflicts; then
      say "forcing server-side apply conflicts: the chart's values take back fields other field managers changed"
      set -- "$@" --force-conflicts
    fi
    [ "${TAKE_OWNERSHIP:-false}" != true ] || set -- "$@" --take-ownership
    [ "${DEPENDENCY_UPDATE:-false}" != true ] || set -- "$@" --dependency-update
    set -- "$@" -f "$CONFIG_DIR/values.yaml"
    case "${VALUES_FILES:-0}" in
      '' | *[!0-9]*) die "VALUES_FILES ${VALUES_FILES} is not a number" 2 ;;
    esac
    i=1
    while [ "$i" -le "${VALUES_FILES:-0}" ]; do
      [ -f "$CONFIG_DIR/values-$i.yaml" ] || die "values-$i.yaml is missing from $CONFIG_DIR" 2
      set -- "$@" -f "$CONFIG_DIR/values-$i.yaml"
      i=$((i + 1))
    done
    if [ -f "$CONFIG_DIR/secret-values.yaml" ]; then
      set -- "$@" -f "$CONFIG_DIR/secret-values.yaml"
    fi
    if [ "${CREATE_NAMESPACE:-false}" = true ]; then
      set -- "$@" --create-namespace
    fi
    run_steps pre-install
    say "helm upgrade --install $RELEASE_NAME $chart --version $CHART_VERSION"
    run helm upgrade --install "$RELEASE_NAME" "$chart" "$@"
    code=$?
    if [ "$code" -eq 1 ] && [ -z "$signalled" ] && recover_pending; then
      say "helm upgrade --install $RELEASE_NAME $chart --version $CHART_VERSION (again, after the recovery)"
      run helm upgrade --install "$RELEASE_NAME" "$chart" "$@"
      code=$?
    fi
    [ "$code" -eq 0 ] || die "helm upgrade --install failed" "$code"
    run_steps post-install
    ;;
  uninstall)
    # The same flags for Helm 3 and 4: helm version (a process of its own in every destroy)
    # runs only when the uninstall fails, to tell an image without Helm 3 or 4 (Helm 2 has
    # no uninstall command; a missing helm fails with 127) from helm's own failure.
    run_steps pre-uninstall
    say "helm uninstall $RELEASE_NAME"
    run helm uninstall "$RELEASE_NAME" --namespace "$RELEASE_NAMESPACE" --ignore-not-found \
      --wait --timeout "$HELM_TIMEOUT"
    code=$?
    if [ "$code" -ne 0 ]; then
      [ -n "$signalled" ] || check_helm
      die "helm uninstall failed" "$code"
    fi
    ;;
  *) die "unknown action $CLUSTERKIT_ACTION" 2 ;;
esac
if [ -n "$recoveries" ] && [ -w "$termination_log" ]; then
  printf '%s' "$recoveries" >"$termination_log" || say "could not write $termination_log"
fi
say "$CLUSTERKIT_ACTION of $RELEASE_NAME finished"
