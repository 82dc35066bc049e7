# wdfx HIL guest library (busybox ash and dash compatible). Sourced by /init (fast flavour), by
# hil-run (system flavour) and by the boot's SCRIPT, which calls hil_case for each test case.
#
# Channels: stdout is the console (ttyS0, the human log); /dev/ttyS1 carries only machine-readable
# lines, one write each:
#   HIL-MARK <case> <marker>         the host runs the boot's HOST_ACTIONS for <marker>, then
#                                    answers HIL-ACK <marker> OK|FAIL <why> on /dev/ttyS2
#   HIL-SYNC                         the host answers HIL-SYNCED on /dev/ttyS2 once all its actions
#                                    are done (hil_finish waits for it: no action is cut short)
#   HIL-FIGURES <case> <json>        the figures a case's program wrote to $HIL_FIGURES
#   HIL-CASE <case> PASS|FAIL <why>  one per case
#   HIL-EXIT <failures>              last line; then QEMU leaves through isa-debug-exit
# Config (/hil/boot.conf): HIL_BOOT, HIL_FLAVOUR, HIL_CASES, HIL_BIND, HIL_MODULES, HIL_CASE_TIMEOUT.

[ -r /hil/boot.conf ] && . /hil/boot.conf
HIL_STATE=${HIL_STATE:-/run/hil}
HIL_RESULT_TTY=${HIL_RESULT_TTY:-/dev/ttyS1}
HIL_CTL_TTY=${HIL_CTL_TTY:-/dev/ttyS2}
PATH=/hil/bin:$PATH
export PATH HIL_STATE HIL_RESULT_TTY HIL_CTL_TTY
mkdir -p "$HIL_STATE" 2>/dev/null

hil_log() { echo "hil: $*"; }

hil_emit() {  # one line on the result channel (and, for the human, on the console)
  printf '%s\n' "$*" > "$HIL_RESULT_TTY"
  printf '%s\n' "$*"
}

hil_mark() {  # <case> <marker>: lets the host act (QMP device_del, ...) at this point
  hil_emit "HIL-MARK $1 $2"
}

# hil_mark_wait <case> <marker> [seconds]: marks, then waits until the host has done the marker's
# actions; fails if one failed or the host did not answer in time (default 60 s).
hil_mark_wait() {
  hil-await mark "$1" "$2" "${3:-60}"
}

# hil_bdf <vvvv:dddd> [n]: the n-th (from 1) PCI address with that vendor:device, or nothing.
hil_bdf() {
  _v=0x${1%:*} _d=0x${1#*:} _n=${2:-1} _i=0
  for _p in /sys/bus/pci/devices/*; do
    [ "$(cat "$_p/vendor")" = "$_v" ] && [ "$(cat "$_p/device")" = "$_d" ] || continue
    _i=$((_i + 1))
    [ "$_i" = "$_n" ] && { echo "${_p##*/}"; return 0; }
  done
  return 1
}

hil_group() {  # <bdf>: its IOMMU group number
  _g=$(readlink "/sys/bus/pci/devices/$1/iommu_group") || return 1
  echo "${_g##*/}"
}

hil_driver() {  # <bdf>: the name of the bound driver, or nothing
  _l=$(readlink "/sys/bus/pci/devices/$1/driver") || return 1
  echo "${_l##*/}"
}

# hil_bind <vvvv:dddd> <driver>: binds every device with that ID to <driver> through driver_override
# and drivers_probe (deterministic, unlike new_id, which races other drivers). Fails unless each ends
# up bound to <driver>.
hil_bind() {
  _id=$1 _drv=$2 _n=1 _rc=0
  case $_drv in
    vfio-pci) modprobe vfio_iommu_type1; modprobe vfio-pci ;;  # type1 is only a softdep of vfio
    *) modprobe "$_drv" ;;
  esac
  while _b=$(hil_bdf "$_id" "$_n"); do
    _n=$((_n + 1))
    _s=/sys/bus/pci/devices/$_b
    echo "$_drv" > "$_s/driver_override"
    [ -e "$_s/driver" ] && echo "$_b" > "$_s/driver/unbind"
    echo "$_b" > /sys/bus/pci/drivers_probe 2>/dev/null
    if [ "$(hil_driver "$_b")" = "$_drv" ]; then
      hil_log "bound $_b ($_id) to $_drv, IOMMU group $(hil_group "$_b" || echo none)"
    else
      hil_log "FAILED to bind $_b ($_id) to $_drv (driver: $(hil_driver "$_b" || echo none))"
      _rc=1
    fi
  done
  [ "$_n" -gt 1 ] || { hil_log "no device $_id to bind to $_drv"; return 1; }
  return $_rc
}

# hil_case <case> <command> [args...]: runs one test case with a deadline and reports its result.
# The command's exit status decides; it may write figures (a JSON object) to $HIL_FIGURES.
hil_case() {
  _case=$1; shift
  mkdir -p "$HIL_STATE/figures"
  HIL_CASE=$_case HIL_FIGURES=$HIL_STATE/figures/$_case.json
  export HIL_CASE HIL_FIGURES
  rm -f "$HIL_FIGURES"
  echo "HIL-CASE-BEGIN $_case: $*"
  timeout -s KILL "${HIL_CASE_TIMEOUT:-120}" "$@"
  _rc=$?
  echo "HIL-CASE-END $_case rc=$_rc"
  if [ $_rc = 137 ]; then hil_result "$_case" $_rc "killed after ${HIL_CASE_TIMEOUT:-120} s"
  else hil_result "$_case" $_rc; fi
}

# hil_result <case> <rc> [why]: reports a case; used by hil_case and by services that run a case.
hil_result() {
  _c=$1 _r=$2 _why=${3:-rc=$2}
  mkdir -p "$HIL_STATE/done"
  _f=$HIL_STATE/figures/$_c.json
  if [ -s "$_f" ]; then hil_emit "HIL-FIGURES $_c $(tr -d '\n' < "$_f")"; fi
  if [ "$_r" = 0 ]; then _v=PASS; else _v=FAIL; fi
  echo "$_v" > "$HIL_STATE/done/$_c"
  hil_emit "HIL-CASE $_c $_v $_why"
  [ "$HIL_FLAVOUR" = system ] && hil_finish_if_complete
  return 0
}

hil_finish_if_complete() {  # system flavour: results come from several services; the last one ends
  for _c in $HIL_CASES; do [ -e "$HIL_STATE/done/$_c" ] || return 0; done
  hil_finish
}

# hil_finish: reports cases that never reported, HIL-EXIT <failures>, and leaves QEMU at once through
# isa-debug-exit (QEMU's status becomes (rc << 1) | 1). poweroff -f is only the fallback: it sometimes
# hangs under multi-threaded TCG.
hil_finish() {
  mkdir "$HIL_STATE/finished" 2>/dev/null || return 0  # once, whoever comes last
  _fails=0
  for _c in $HIL_CASES; do
    _v=$(cat "$HIL_STATE/done/$_c" 2>/dev/null)
    if [ -z "$_v" ]; then hil_emit "HIL-CASE $_c FAIL no result from the guest script"; _v=FAIL; fi
    [ "$_v" = PASS ] || _fails=$((_fails + 1))
  done
  hil-await sync 60 || hil_log "warning: the host did not answer HIL-SYNC"
  hil_emit "HIL-EXIT $_fails"
  sync
  _x=$_fails; [ $_x -gt 127 ] && _x=127
  printf "\\$(printf '%03o' $_x)" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  poweroff -f
}
