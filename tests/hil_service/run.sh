# Guest script of boot "service" (system flavour; hil-run.service runs it as root once systemd is
# up). It binds and starts nothing: at coldplug udev bound edu to vfio-pci through the rules
# `wdfxctl udev-rules` generated from sample-drivers/edu/edu.match (/etc/udev/rules.d/90-wdfx.rules),
# udev/70-wdfx.rules gave /dev/vfio/N to group wdfx, and the rule's SYSTEMD_WANTS started the
# project's unit wdfx-driver@wdfx-edu.service. The cases (cases.sh) check and use what that made.
. /hil/lib.sh
c() {  # <case> <function>; the uptime tells what each case costs
  echo "service: uptime $(cut -d" " -f1 /proc/uptime) s: $1"
  hil_case "$1" hil-sh ". /hil/service/cases.sh; $2"
}
c service_udev_start c_udev_start
c service_client c_client
c service_exposure c_exposure
c service_journal c_journal
c service_kill_restart c_kill_restart
c service_watchdog c_watchdog
c service_stop_release c_stop_release
c service_rebind_start c_rebind_start
