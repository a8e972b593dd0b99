#!/bin/sh
# ISC dhclient exit hook: hands DHCP option 43 (ACS discovery, TR-069 §3.1; H3C form
# "URL user password" in sub-option 1) to the CPE agent.
#
# Install as /etc/dhcp/dhclient-exit-hooks.d/cpe (sourced by dhclient-script; do not `exit`)
# and in dhclient.conf:
#   send vendor-class-identifier "dslforum.org";
#   request vendor-encapsulated-options;
# dhclient-script exports $reason and $new_vendor_encapsulated_options (colon-separated hex).
#
# CPE_STATE_DIR: the agent's state directory (default /var/lib/cpe); CPE_BIN: the binary.
case "$reason" in
    BOUND|RENEW|REBIND|REBOOT)
        reason="$reason" new_vendor_encapsulated_options="$new_vendor_encapsulated_options" \
            "${CPE_BIN:-cpe}" dhcp hook --state-dir "${CPE_STATE_DIR:-/var/lib/cpe}" \
            || logger -t cpe "DHCP option 43 refused (see above)" 2>/dev/null || true
        ;;
esac
