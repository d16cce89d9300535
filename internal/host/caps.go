package host

import (
	"os"

	"golang.org/x/sys/unix"
)

// CanAdminNetwork reports whether this process may change nftables: it is
// root or holds CAP_NET_ADMIN in its effective set (as the systemd unit
// grants it to the unprivileged rampart user).
func CanAdminNetwork() bool {
	if os.Geteuid() == 0 {
		return true
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[unix.CAP_NET_ADMIN/32].Effective&(1<<(unix.CAP_NET_ADMIN%32)) != 0
}
