# The cases of boot "service" (sourced by hil-sh with /hil/lib.sh loaded; run.sh calls them through
# hil_case). Each function's status is the case's result; figures go to $HIL_FIGURES as JSON.
# Waiting is bounded polling for a state with a deadline (wait_until), never a fixed sleep.
U=wdfx-driver@wdfx-edu.service
CLIENT=hil  # a user in group wdfx (the root file system's)
EDU=/hil/bin/wdfx-edu
export SYSTEMD_PAGER=cat SYSTEMD_COLORS=0

prop() { systemctl show -p "$1" --value "$U"; }
say() { echo "service: $*"; }
bad() { echo "service: FAIL: $*"; return 1; }
fail_() { echo "service: FAIL: $*"; rc=1; }  # records a failure, goes on
ms_now() { echo $(($(date +%s%N) / 1000000)); }
uptime_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
us_to_s() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1e6 }'; }

# wait_until <seconds> <command...>: polls the command every 50 ms until it succeeds or the
# deadline passes.
wait_until() {
  _end=$(($(ms_now) + $1 * 1000)); shift
  until "$@"; do
    [ "$(ms_now)" -lt "$_end" ] || return 1
    sleep 0.05
  done
}

unit_active() { [ "$(systemctl is-active "$U")" = active ]; }
as_client() { runuser -u "$CLIENT" -- "$@"; }

edu_bdf() { hil_bdf 1234:11e8; }
edu_group() { hil_group "$(edu_bdf)"; }

# The CPUs in a list like 0-2,5, one a line.
expand_cpus() {
  echo "$1" | tr , '\n' | awk -F- '{ for (c = $1; c <= ($2 == "" ? $1 : $2); c++) print c }'
}
task_cpus() { sed -n 's/^Cpus_allowed_list:\s*//p' "$1/status"; }

# cpus_ok <pid> <cpu list>: the driver may run on exactly <cpu list> (its unit's CPUAffinity= on
# this machine), and the runtime chose from it: a DPC thread pinned on each of its CPUs and on no
# other, each ISR thread pinned to one of them (the default interrupt policy). CPUS_WHY says what
# is wrong.
cpus_ok() {
  CPUS_WHY=""
  _want=$(expand_cpus "$2" | tr '\n' ' ')
  _allowed=$(task_cpus "/proc/$1")
  [ "$(expand_cpus "$_allowed" | tr '\n' ' ')" = "$_want" ] ||
    { CPUS_WHY="the driver may run on CPUs $_allowed, expected $2"; return 1; }
  _dpc="" _isr=0
  for _t in /proc/"$1"/task/*; do
    _c=$(cat "$_t/comm"); _a=$(task_cpus "$_t")
    case "$_c" in
      wdfx-dpc/*)
        [ "$_a" = "${_c#wdfx-dpc/}" ] || { CPUS_WHY="$_c runs on CPUs $_a"; return 1; }
        _dpc="$_dpc${_c#wdfx-dpc/}\n" ;;
      wdfx-isr*)
        _isr=$((_isr + 1))
        case " $_want" in *" $_a "*) ;; *) CPUS_WHY="$_c runs on CPUs $_a, not on one of $2"; return 1 ;; esac ;;
    esac
  done
  [ "$(printf "$_dpc" | sort -n | tr '\n' ' ')" = "$_want" ] ||
    { CPUS_WHY="DPC threads on CPUs $(printf "$_dpc" | sort -n | tr '\n' ' '), expected $_want"; return 1; }
  [ "$_isr" -gt 0 ] || { CPUS_WHY="no ISR thread"; return 1; }
}

cpu_threads() {  # <pid>: each wdfx thread's CPUs, for the log
  for _t in /proc/"$1"/task/*; do
    case "$(cat "$_t/comm")" in wdfx-*) echo "  $(cat "$_t/comm"): CPUs $(task_cpus "$_t")" ;; esac
  done
}

dump_unit() {
  systemctl status --no-pager --full "$U" 2>&1 | head -30
  journalctl -b --no-pager -o short-monotonic -u "$U" | tail -40
}

# Processes (other than the kernel's) holding /dev/vfio/<group> open.
vfio_holders() {
  find /proc/[0-9]*/fd -maxdepth 1 -lname "/dev/vfio/$1" 2>/dev/null | cut -d/ -f3 | sort -u
}

# factorial <n> <expected>: through the socket interface as the client user.
factorial() {
  _out=$(as_client "$EDU" factorial "$1") || { bad "wdfx-edu factorial $1: $_out"; return 1; }
  [ "$_out" = "$1! = $2" ] || { bad "wdfx-edu factorial $1 printed '$_out', expected '$1! = $2'"; return 1; }
}

serves() {  # a factorial and a 2 KiB DMA round trip, as the client user
  factorial 10 3628800 || return 1
  head -c 2048 /dev/urandom > /run/hil/dma-2048.bin && chmod 644 /run/hil/dma-2048.bin
  as_client "$EDU" dma-roundtrip /run/hil/dma-2048.bin || { bad "DMA round trip"; return 1; }
}

# ---- at boot udev bound edu to vfio-pci and systemd started the unit as a non-root user ----------
c_udev_start() {
  B=$(edu_bdf) || { bad "no edu device"; return 1; }
  wait_until 90 unit_active || { dump_unit; bad "$U is not active 90 s after hil-run started"; return 1; }
  rc=0
  drv=$(hil_driver "$B"); ovr=$(cat "/sys/bus/pci/devices/$B/driver_override")
  say "edu $B: driver $drv, driver_override $ovr"
  [ "$drv" = vfio-pci ] && [ "$ovr" = vfio-pci ] || fail_ "edu is not bound to vfio-pci through driver_override"
  grep -q '^[^#]' /etc/udev/rules.d/80-hil-bind.rules && fail_ "the harness's binding rules are in place"
  G=$(hil_group "$B")
  perms=$(stat -c '%U:%G %a' "/dev/vfio/$G")
  say "/dev/vfio/$G: $perms"
  [ "$perms" = "root:wdfx 660" ] || fail_ "/dev/vfio/$G is $perms, expected root:wdfx 660"
  wanted=$(prop WantedBy)
  say "$U wanted by: $wanted"
  case " $wanted " in *.device\ *) ;; *) fail_ "$U was not started by a udev SYSTEMD_WANTS (WantedBy=$wanted)" ;; esac

  pid=$(prop MainPID)
  [ -x /hil/bin/ps ] && /hil/bin/ps -o pid,user,group,supgrp,args -p "$pid"
  uid=$(sed -n 's/^Uid:\s*//p' "/proc/$pid/status"); gid=$(sed -n 's/^Gid:\s*//p' "/proc/$pid/status")
  groups=$(sed -n 's/^Groups:\s*//p' "/proc/$pid/status")
  capeff=$(sed -n 's/^CapEff:\s*//p' "/proc/$pid/status"); nnp=$(sed -n 's/^NoNewPrivs:\s*//p' "/proc/$pid/status")
  seccomp=$(sed -n 's/^Seccomp:\s*//p' "/proc/$pid/status")
  wdfx_gid=$(getent group wdfx | cut -d: -f3)
  say "pid $pid: uid $uid, gid $gid, groups $groups, CapEff $capeff, NoNewPrivs $nnp, Seccomp $seccomp"
  for u in $uid; do [ "$u" != 0 ] || fail_ "the driver runs as root"; done
  case " $(echo $gid) $groups " in *" $wdfx_gid "*) ;; *) fail_ "the driver is not in group wdfx ($wdfx_gid)" ;; esac
  # CAP_SYS_NICE (bit 23) at most.
  [ $((0x$capeff & ~0x800000)) = 0 ] || fail_ "capabilities beyond CAP_SYS_NICE: $capeff"
  # The ISR threads run SCHED_FIFO (LimitRTPRIO=, CAP_SYS_NICE): policy 1 in /proc/.../stat.
  [ -x /hil/bin/ps ] && /hil/bin/ps -L -o tid,cls,rtprio,comm -p "$pid"
  isr=0 isr_fifo=0
  for t in /proc/"$pid"/task/*; do
    case "$(cat "$t/comm")" in wdfx-isr*) ;; *) continue ;; esac
    isr=$((isr + 1))
    [ "$(sed 's/.*) //' "$t/stat" | cut -d' ' -f39)" = 1 ] && isr_fifo=$((isr_fifo + 1))
  done
  say "ISR threads: $isr, SCHED_FIFO: $isr_fifo"
  [ "$isr" -gt 0 ] && [ "$isr_fifo" = "$isr" ] || fail_ "the ISR threads do not all run SCHED_FIFO"
  # CPUAffinity=0-1023: the driver may use every online CPU, and its threads are spread on them.
  aff=$(prop CPUAffinity); online=$(cat /sys/devices/system/cpu/online)
  say "unit CPUAffinity=$aff; online CPUs $online; driver Cpus_allowed_list $(task_cpus "/proc/$pid")"
  [ -n "$aff" ] || fail_ "the unit sets no CPUAffinity="
  # The DPC threads pin themselves when they start: wait for that rather than race it.
  wait_until 10 cpus_ok "$pid" "$online" || fail_ "CPUs: $CPUS_WHY"
  cpu_threads "$pid"
  [ -n "$(vfio_holders "$G")" ] && say "holders of /dev/vfio/$G: $(vfio_holders "$G" | tr '\n' ' ')"
  vfio_holders "$G" | grep -qx "$pid" || fail_ "the driver does not hold /dev/vfio/$G"

  ready=$(prop ActiveEnterTimestampMonotonic); start=$(prop ExecMainStartTimestampMonotonic)
  userspace=$(systemctl show -p UserspaceTimestampMonotonic --value)
  devunit=$(systemd-escape -p --suffix=device "$(readlink -f "/sys/bus/pci/devices/$B")")
  plugged=$(systemctl show -p ActiveEnterTimestampMonotonic --value "$devunit")
  say "guest uptime: userspace $(us_to_s "$userspace") s, $devunit plugged $(us_to_s "$plugged") s," \
      "driver started $(us_to_s "$start") s, READY $(us_to_s "$ready") s; status: $(prop StatusText)"
  systemd-analyze --no-pager 2>/dev/null | head -1
  udevadm info -q property "/sys/bus/pci/devices/$B" | grep -E '^(DRIVER|TAGS|CURRENT_TAGS|SYSTEMD_WANTS|WDFX_DRIVER)='
  journalctl -b --no-pager -o short-monotonic -u "$U" | head -8
  [ "${ready:-0}" -gt 0 ] || fail_ "no ActiveEnterTimestampMonotonic"
  cat > "$HIL_FIGURES" <<JSON
{"boot_to_ready": {"what": "guest uptime (CLOCK_MONOTONIC) when $U became active (READY=1 after D0 with interrupts enabled)",
  "boot_to_ready_s": $(us_to_s "$ready"), "userspace_start_s": $(us_to_s "$userspace"),
  "device_unit_plugged_s": $(us_to_s "$plugged"), "driver_exec_s": $(us_to_s "$start"),
  "exec_to_ready_ms": $(awk -v a="$ready" -v b="$start" 'BEGIN { printf "%.1f", (a - b) / 1000 }')},
 "identity": {"uid": "$(echo $uid)", "gid": "$(echo $gid)", "groups": "$groups", "cap_eff": "$capeff",
  "no_new_privs": "$nnp", "seccomp": "$seccomp", "isr_threads": $isr, "isr_threads_sched_fifo": $isr_fifo,
  "cpu_affinity": "$aff", "cpus_allowed": "$(task_cpus "/proc/$pid")", "cpus_online": "$online"},
 "device": {"bdf": "$B", "iommu_group": "$G"}}
JSON
  return ${rc:-0}
}

# ---- a client computes factorials and DMA round trips through the service -----------------------
c_client() {
  unit_active || { dump_unit; bad "$U is not active"; return 1; }
  rc=0
  id "$CLIENT"
  ls -ld /run/wdfx /run/wdfx/* 2>&1
  t0=$(ms_now)
  for nv in 0:1 1:1 5:120 10:3628800 12:479001600 13:1932053504; do
    factorial "${nv%:*}" "${nv#*:}" || rc=1
  done
  t1=$(ms_now)
  n=0
  for size in 1 100 2048; do
    head -c $size /dev/urandom > "/run/hil/dma-$size.bin" && chmod 644 "/run/hil/dma-$size.bin"
    as_client "$EDU" dma-roundtrip "/run/hil/dma-$size.bin" || fail_ "DMA round trip of $size bytes"
    n=$((n + 1))
  done
  t2=$(ms_now)
  as_client "$EDU" liveness 0x12345678 || fail_ "liveness"
  # A user outside group wdfx cannot reach the driver.
  if out=$(runuser -u nobody -- "$EDU" factorial 3 2>&1); then
    fail_ "user nobody (not in group wdfx) computed a factorial: $out"
  else
    say "user nobody is refused: $out"
  fi
  # CUSE: where the guest kernel has it (the harness's module set decides), the driver publishes
  # /dev/wdfx-edu0 for group wdfx (udev/70-wdfx.rules); dd writes (DMA to the device) and reads.
  if [ -e /dev/cuse ]; then
    udevadm settle -t 10
    ls -l /dev/cuse /dev/wdfx-edu0 2>&1
    if [ -c /dev/wdfx-edu0 ]; then
      cuse="dd through /dev/wdfx-edu0 as user $CLIENT"
      head -c 512 /dev/urandom > /run/hil/cuse.bin && chmod 644 /run/hil/cuse.bin
      as_client dd if=/run/hil/cuse.bin of=/dev/wdfx-edu0 bs=512 count=1 conv=notrunc ||
        fail_ "dd to /dev/wdfx-edu0"
      as_client dd if=/dev/wdfx-edu0 bs=512 count=1 > /run/hil/cuse.out || fail_ "dd from /dev/wdfx-edu0"
      cmp /run/hil/cuse.bin /run/hil/cuse.out || fail_ "the CUSE round trip differs"
    else
      cuse="/dev/cuse exists, but the driver published no /dev/wdfx-edu0"
      fail_ "$cuse"
      journalctl -b --no-pager -o cat -u "$U" | grep -i cuse
    fi
  else
    cuse="not tested: the guest has no /dev/cuse (no cuse module in the harness's module set)"
  fi
  say "CUSE: $cuse"
  cat > "$HIL_FIGURES" <<JSON
{"client_cli": {"what": "wdfx-edu runs as user $CLIENT (runuser + connect + request + exit)",
  "factorials": 6, "factorial_mean_ms": $(((t1 - t0) / 6)), "dma_roundtrips": $n,
  "dma_roundtrip_mean_ms": $(((t2 - t1) / n))}, "cuse": "$cuse"}
JSON
  return ${rc:-0}
}

# ---- the unit's exposure ----------------------------------------------------------------------
c_exposure() {
  out=$(systemd-analyze security --no-pager "$U" 2>&1)
  echo "$out"
  score=$(echo "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  [ -n "$score" ] || { bad "no exposure level in systemd-analyze's output"; return 1; }
  printf '{"exposure": {"what": "systemd-analyze security %s", "score": %s, "limit": 3.0}}\n' \
    "$U" "$score" > "$HIL_FIGURES"
  say "exposure $score (limit 3.0)"
  awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || { bad "exposure $score > 3.0"; return 1; }
}

# ---- the journal has the driver's entries with structured fields ------------------------------
c_journal() {
  all=$(journalctl -b --no-pager -o json -u "$U")
  n=$(echo "$all" | grep -c '"WDFX_DEVICE"')
  say "$(echo "$all" | grep -c .) journal entries of $U, $n with WDFX_DEVICE"
  journalctl -b --no-pager -o verbose -u "$U" WDFX_DEVICE="$(edu_bdf)" | head -40
  echo "$all" | grep '"WDFX_DEVICE"' | head -3
  printf '{"journal": {"entries": %s, "with_wdfx_device": %s}}\n' "$(echo "$all" | grep -c .)" "$n" \
    > "$HIL_FIGURES"
  [ "$n" -gt 0 ] || { bad "no journal entry of $U carries WDFX_DEVICE"; return 1; }
}

# ---- kill -9: systemd restarts the driver, which takes the device over and serves ---------------
restarted() {
  _p=$(prop MainPID)
  unit_active && [ "$(prop NRestarts)" -gt "$1" ] && [ "$_p" != 0 ] && [ "$_p" != "$2" ]
}

c_kill_restart() {
  unit_active || { dump_unit; bad "$U is not active"; return 1; }
  G=$(edu_group)
  old=$(prop MainPID); n0=$(prop NRestarts)
  t0=$(uptime_ms)
  say "kill -9 $old (restarts so far: $n0)"
  kill -9 "$old"
  wait_until 60 restarted "$n0" "$old" || { dump_unit; bad "no restart within 60 s"; return 1; }
  new=$(prop MainPID); ready=$(prop ActiveEnterTimestampMonotonic)
  say "restarted as pid $new, READY at $(us_to_s "$ready") s; holders of /dev/vfio/$G: $(vfio_holders "$G" | tr '\n' ' ')"
  rc=0
  [ "$(vfio_holders "$G")" = "$new" ] || fail_ "/dev/vfio/$G is not held by the new driver alone"
  serves || rc=1
  journalctl -b --no-pager -o short-monotonic -u "$U" | tail -15
  if journalctl -b --no-pager -o cat _PID="$new" | grep -iE 'busy|in use'; then
    fail_ "the new driver reported trouble taking the device"
  fi
  printf '{"kill_restart": {"what": "kill -9 -> the new driver READY (RestartSec=1s included)", "kill_to_ready_ms": %s, "restarts": %s}}\n' \
    "$(awk -v r="$ready" -v t="$t0" 'BEGIN { printf "%.0f", r / 1000 - t }')" "$(prop NRestarts)" > "$HIL_FIGURES"
  return $rc
}

# ---- watchdog: a DPC stuck longer than the bound stops the feeding; systemd restarts ------------
c_watchdog() {
  unit_active || { dump_unit; bad "$U is not active"; return 1; }
  d=/run/systemd/system/$U.d
  mkdir -p "$d"
  printf '[Service]\nEnvironment="WDFX_ARGS=--test-stall-dpc 120000"\n' > "$d/hil-stall.conf"
  systemctl daemon-reload
  systemctl restart "$U" || { dump_unit; bad "restart with --test-stall-dpc"; return 1; }
  old=$(prop MainPID); n0=$(prop NRestarts)
  say "driver $old runs with --test-stall-dpc; WatchdogUSec=$(prop WatchdogUSec)"
  t0=$(uptime_ms)
  as_client timeout 150 "$EDU" raise 0x80000000 > /run/hil/raise.out 2>&1 &
  raiser=$!
  wait_until 90 restarted "$n0" "$old" || { dump_unit; bad "no restart within 90 s of the stall"; return 1; }
  ready=$(prop ActiveEnterTimestampMonotonic)
  wait "$raiser"
  say "the stalled request's client: $(cat /run/hil/raise.out)"
  # The drop-in stays (a daemon-reload costs seconds under TCG): the option acts on bit 31 only.
  log=$(journalctl -b --no-pager -o short-monotonic -u "$U")
  echo "$log" | grep -iE 'watchdog|stuck|Failed with|Scheduled restart' | tail -8
  rc=0
  echo "$log" | grep -q "watchdog: not feeding systemd" || fail_ "the runtime did not report the stuck DPC"
  echo "$log" | grep -q "Failed with result 'watchdog'" ||
    fail_ "systemd did not end the driver for a watchdog timeout"
  serves || rc=1
  printf '{"watchdog": {"what": "a DPC blocked from t=0: the runtime stops feeding after its 5 s bound, systemd (WatchdogSec=10s) aborts and restarts", "stall_to_ready_ms": %s}}\n' \
    "$(awk -v r="$ready" -v t="$t0" 'BEGIN { printf "%.0f", r / 1000 - t }')" > "$HIL_FIGURES"
  return $rc
}

# ---- systemctl stop releases the device: an unbind of vfio-pci then completes promptly ----------
unbound() { [ ! -e "/sys/bus/pci/devices/$1/driver" ]; }

c_stop_release() {
  unit_active || { dump_unit; bad "$U is not active"; return 1; }
  B=$(edu_bdf); G=$(edu_group)
  rc=0
  t0=$(ms_now)
  systemctl stop "$U" || fail_ "systemctl stop"
  t1=$(ms_now)
  say "stopped in $((t1 - t0)) ms: $(systemctl show -p ActiveState -p Result -p ExecMainStatus "$U" | tr '\n' ' ')"
  [ "$(prop Result)" = success ] && [ "$(prop ExecMainStatus)" = 0 ] || fail_ "the driver did not exit 0 on SIGTERM"
  h=$(vfio_holders "$G")
  [ -z "$h" ] || fail_ "/dev/vfio/$G still held by $h"
  t2=$(ms_now)
  echo "$B" > /sys/bus/pci/drivers/vfio-pci/unbind &
  unbinder=$!
  if wait_until 30 unbound "$B"; then
    t3=$(ms_now)
    wait "$unbinder"
    say "vfio-pci unbind of $B completed in $((t3 - t2)) ms"
  else
    t3=$(ms_now)
    bad "the unbind of $B has not completed after 30 s (the kernel waits for the device to be released)"
    dmesg | tail -5
    rc=1
  fi
  udevadm settle -t 10  # the unbind's uevents reached udev's listeners (systemd)
  if [ "$(systemctl is-active "$U")" != inactive ]; then
    fail_ "$U is $(systemctl is-active "$U") after the unbind"
    journalctl -b --no-pager -o short-monotonic _PID=1 | grep -iE "wdfx|00:01.0|job" | tail -40
    udevadm info -q property "/sys/bus/pci/devices/$B" | grep -E '^(DRIVER|TAGS|CURRENT_TAGS|SYSTEMD_WANTS|WDFX_DRIVER)='
  fi
  printf '{"stop_release": {"what": "systemctl stop, then echo BDF > vfio-pci/unbind", "stop_ms": %s, "unbind_ms": %s}}\n' \
    $((t1 - t0)) $((t3 - t2)) > "$HIL_FIGURES"
  return $rc
}

# ---- a bind to vfio-pci (by hand here, as after the unbind above) starts the service again -------
# It starts with a drop-in CPUAffinity=1: the runtime takes its CPUs from the unit's set (one DPC
# thread, on CPU 1; the ISR thread on CPU 1).
c_rebind_start() {
  B=$(edu_bdf)
  [ "$(systemctl is-active "$U")" = inactive ] || { bad "$U is not inactive before the bind"; return 1; }
  d=/run/systemd/system/$U.d
  mkdir -p "$d"
  # CPUAffinity= lines add up: the empty one drops the unit's 0-1023 first.
  printf '[Service]\nCPUAffinity=\nCPUAffinity=1\n' > "$d/hil-cpu.conf"
  systemctl daemon-reload
  t0=$(uptime_ms)
  echo "$B" > /sys/bus/pci/drivers_probe  # driver_override is still vfio-pci
  say "edu $B bound to $(hil_driver "$B")"
  wait_until 60 unit_active || { dump_unit; bad "$U did not start within 60 s of the bind"; return 1; }
  ready=$(prop ActiveEnterTimestampMonotonic)
  rc=0
  pid=$(prop MainPID)
  say "unit CPUAffinity=$(prop CPUAffinity); driver $pid Cpus_allowed_list $(task_cpus "/proc/$pid")"
  wait_until 10 cpus_ok "$pid" 1 || fail_ "with CPUAffinity=1: $CPUS_WHY"
  cpu_threads "$pid"
  serves || rc=1
  printf '{"rebind_start": {"what": "bind to vfio-pci -> the udev want starts the service -> READY (drop-in CPUAffinity=1)", "bind_to_ready_ms": %s, "cpus_allowed": "%s"}}\n' \
    "$(awk -v r="$ready" -v t="$t0" 'BEGIN { printf "%.0f", r / 1000 - t }')" "$(task_cpus "/proc/$pid")" > "$HIL_FIGURES"
  return $rc
}
