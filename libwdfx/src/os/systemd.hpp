// The two systemd protocols a driver service needs, spoken natively (no libsystemd, which has no
// static archive for the HIL guest's static programs):
//  - sd_notify: a datagram of "KEY=value" lines to $NOTIFY_SOCKET (READY=1, STATUS=, WATCHDOG=1);
//  - the journal's native protocol: a datagram of "FIELD=value" lines to
//    /run/systemd/journal/socket, so logs carry structured fields (WDFX_DEVICE, WDFX_INTERRUPT).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace wdfx::os {

/// Send `state` to the service manager; false when not run by systemd (no $NOTIFY_SOCKET).
bool sd_notify(const std::string& state) noexcept;

/// True when stderr is the journal (systemd sets $JOURNAL_STREAM to its device:inode).
bool stderr_is_journal() noexcept;

/// One journal entry: MESSAGE, PRIORITY (syslog 0..7), SYSLOG_IDENTIFIER and extra fields.
bool journal_send(int priority, const std::string& message,
                  const std::vector<std::pair<std::string, std::string>>& fields) noexcept;

/// $WATCHDOG_USEC for this process (0 when no watchdog is configured).
unsigned long long watchdog_usec() noexcept;

}  // namespace wdfx::os
