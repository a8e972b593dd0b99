#!/bin/sh
# busybox udhcpc hook: hands DHCP option 43 (ACS discovery, TR-069 §3.1; H3C form
# "URL user password" in sub-option 1) to the CPE agent.
#
#   udhcpc -i eth0 -V dslforum.org -O 43 -s /usr/share/cpe/udhcpc-hook.sh
#
# `-O 43` makes udhcpc request option 43 and export it as $opt43 (hex). Chain the system's
# default script first if this one replaces it, e.g.
#   /usr/share/udhcpc/default.script "$@"
#
# CPE_STATE_DIR: the agent's state directory (default /var/lib/cpe); CPE_BIN: the binary.
CPE_BIN="${CPE_BIN:-cpe}"
CPE_STATE_DIR="${CPE_STATE_DIR:-/var/lib/cpe}"

case "$1" in
    bound|renew)
        exec "$CPE_BIN" dhcp hook --state-dir "$CPE_STATE_DIR" "$1"
        ;;
esac
exit 0
