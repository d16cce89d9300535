# rampart.nix: NixOS 26.11 module rendered by `rampart nix --release 26.11`
# from policy site.toml, profile tailnet. Every option below exists in NixOS 26.11;
# render again rather than editing, and for another release.
{ config, lib, pkgs, ... }:
{
  # OpenSSH: keys only, few tries, idle sessions closed. sshd_config keys the module
  # does not declare (MaxAuthTries, ClientAlive*, AllowTcpForwarding) go through the
  # freeform settings; there is nothing to set for the SSH version.
  services.openssh = {
    enable = true;
    ports = [ 22 ];
    # SSH only over the tailnet: no global port; the tailnet interface is trusted
    openFirewall = false;
    settings.PasswordAuthentication = false;
    # PAM answers keyboard-interactive with the password
    settings.KbdInteractiveAuthentication = false;
    settings.PermitRootLogin = "prohibit-password";
    settings.MaxAuthTries = 3;
    # seconds
    settings.ClientAliveInterval = 300;
    settings.ClientAliveCountMax = 2;
    settings.AllowTcpForwarding = false;
    settings.X11Forwarding = false;
  };

  # Administrator: with passwords off, these keys are the way in.
  users.users.alice = {
    isNormalUser = true;
    extraGroups = [ "wheel" ];
    openssh.authorizedKeys.keys = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0wmN/Cr3JXqmLW7u+g9pTh+wyqDHpSQEIQczXkVx9q alice@example.org"
    ];
  };
  users.users.deploy = {
    isNormalUser = true;
    openssh.authorizedKeys.keys = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy \"\${x}\" \\ ''"
    ];
  };

  # sudo for the wheel administrators.
  # key-only administrators have no password to give sudo
  security.sudo.wheelNeedsPassword = false;

  # fail2ban: ban brute-force sources. The module's DEFAULT jail reads the journal
  # (backend systemd; NixOS has no /var/log/auth.log) and it creates the sshd jail
  # itself when OpenSSH is on. findtime has no option of its own: it is a DEFAULT
  # jail setting. Jail keys go under settings (filter names too).
  services.fail2ban = {
    enable = true;
    # a string: an integer fails evaluation
    bantime = "1h";
    maxretry = 3;
    # there is no findtime option: it goes to the DEFAULT jail
    jails.DEFAULT.settings.findtime = "10m";
    # 127.0.0.1/8 and ::1 are always ignored by the module; so are the tailnet ranges: SSH comes only over the tailnet
    ignoreIP = [
      "192.168.1.0/24"
      "2001:db8::/32"
      "100.64.0.0/10"
      "fd7a:115c:a1e0::/48"
    ];
    # repeat offenders get longer bans
    bantime-increment.enable = true;
    bantime-increment.factor = "2";
    # the nth ban lasts bantime * factor^(n-1), as rampart guard computes it (fail2ban's
    # default formula would double it once more: bantime * 2^(n-1) * factor)
    bantime-increment.formula = "ban.Time * banFactor**min(ban.Count, 8)";
    bantime-increment.maxtime = "1w";
    jails.sshd.settings = {
      filter = "sshd";
      # the policy's ssh.ports
      port = "22";
      # bans cover every port of the offender (the module's banaction-allports)
      banaction = "%(banaction_allports)s";
      # also sshd-session: OpenSSH >= 9.8 logs failures from it
      journalmatch = "_SYSTEMD_UNIT=sshd.service + _SYSTEMD_UNIT=ssh.service + _COMM=sshd + _COMM=sshd-session + SYSLOG_IDENTIFIER=sshd + SYSLOG_IDENTIFIER=sshd-session";
      maxretry = 3;
    };
    # only with nginx: fail2ban refuses a file jail whose log does not exist
    jails.nginx-noscript = lib.mkIf config.services.nginx.enable {
      settings = {
        filter = "nginx-noscript";
        port = "80,443";
        # bans cover every port of the offender (the module's banaction-allports)
        banaction = "%(banaction_allports)s";
        logpath = "/var/log/nginx/access.log";
        # the DEFAULT backend (systemd) would ignore logpath
        backend = "auto";
        maxretry = 6;
      };
    };
    # fail2ban ships no nginx-noscript filter in every release: rampart defines it
    filters.nginx-noscript.Definition = {
      failregex = "^<HOST> \\S+ \\S+ \\[[^\\]]*\\] \"[A-Z]+ /[^\" ]*\\.(?:php[0-9]?|phtml|aspx?|exe|pl|cgi|jsp|cfm|dll)(?:[?;#][^\" ]*)? HTTP/[0-9.]+\" 404\\s";
      ignoreregex = "";
    };
  };

  # Files created at boot.
  # fail2ban exits when a file jail's log does not exist yet (and its unit does not
  # restart), taking the sshd jail down with it: create nginx's logs at boot, with
  # nginx's owner and modes
  systemd.tmpfiles.rules = lib.mkIf config.services.nginx.enable [
    "d /var/log/nginx 0750 ${config.services.nginx.user} ${config.services.nginx.group} - -"
    "f /var/log/nginx/access.log 0640 ${config.services.nginx.user} ${config.services.nginx.group} - -"
  ];

  # fail2ban's unit: what it starts after, what restarts it.
  # read the nginx logs once nginx has opened them
  systemd.services.fail2ban.after = lib.mkIf config.services.nginx.enable [ "nginx.service" ];

  # Kernel audit: auditd records, keyed watches say what changed.
  security.auditd.enable = true;

  # 25.11+: the module prepends -D, -b (backlogLimit, default 1024), -f and -r
  # to the rules file and appends -e, and adds audit=1 to the kernel command line.
  security.audit = {
    # 25.11+: rules load through audit-rules-nixos.service (auditctl -R)
    enable = true;
    backlogLimit = 8192;
    # watches only: the module writes the -D/-b/-f/-e control lines itself
    rules = [
      "-w /etc/passwd -p wa -k identity"
      "-w /etc/group -p wa -k identity"
      "-w /etc/ssh/sshd_config -p wa -k ssh"
      "-w /etc/sudoers -p wa -k sudo"
      "-w /etc/crontab -p wa -k cron"
      "-w /etc/systemd -p wa -k systemd"
    ];
  };

  # Audit watches that load on every kernel.
  systemd.services.rampart-audit-watches = {
    # nixpkgs issue #513202: on kernels >= 6.19 audit-rules-nixos.service stops at the -b
    # line and loads no rule; this unit loads each watch by itself after it (a no-op where
    # the module's service worked)
    description = "Load rampart's audit watches (nixpkgs issue #513202)";
    wantedBy = [ "multi-user.target" ];
    after = [ "audit-rules-nixos.service" ];
    # restarted with it: its rules file starts with -D, which drops these watches too
    partOf = [ "audit-rules-nixos.service" ];
    path = [ config.security.audit.package ];
    serviceConfig.Type = "oneshot";
    serviceConfig.RemainAfterExit = true;
    script = ''
      case "$(auditctl -s)" in *"enabled 2"*) echo "audit rules are locked: nothing to add"; exit 0 ;; esac
      failed=0
      add() {
        if out=$(auditctl "$@" 2>&1); then echo "added: $*"; return; fi
        case "$out" in
          *"Rule exists"*) echo "already loaded: $*" ;;
          *) echo "auditctl $*: $out" >&2; failed=1 ;;
        esac
      }
      add -w '/etc/passwd' -p 'wa' -k 'identity'
      add -w '/etc/group' -p 'wa' -k 'identity'
      add -w '/etc/ssh/sshd_config' -p 'wa' -k 'ssh'
      add -w '/etc/sudoers' -p 'wa' -k 'sudo'
      add -w '/etc/crontab' -p 'wa' -k 'cron'
      add -w '/etc/systemd' -p 'wa' -k 'systemd'
      exit "$failed"
    '';
  };

  # Kernel network hardening (written to /etc/sysctl.d/60-nixos.conf).
  boot.kernel.sysctl = {
    # net.ipv4.ip_forward = 0 is not set: tailscale use_routing_features = both needs forwarding
    "net.ipv4.conf.all.accept_redirects" = 0;
    "net.ipv4.conf.all.send_redirects" = 0;
    # net.ipv4.conf.all.rp_filter = 1 is not set: a strict rp_filter drops tailnet exit-node traffic; networking.firewall.checkReversePath (loose with client routing) filters instead
    "net.ipv4.tcp_syncookies" = 1;
    "net.ipv4.tcp_max_syn_backlog" = 2048;
    "net.ipv4.tcp_synack_retries" = 2;
  };

  # Accurate time keeps logs and bans comparable.
  services.chrony = {
    # chrony turns systemd-timesyncd off
    enable = true;
    servers = [ "0.pool.ntp.org" "time.cloudflare.com" ];
  };

  # journald retention. From 26.11 extraConfig is gone (nixpkgs PR #536538):
  # [Journal] keys go under settings.Journal. (NixOS has no journald options under systemd.)
  services.journald.settings.Journal = {
    Storage = "persistent";
    MaxRetentionSec = "1month";
    SystemMaxFileSize = "1000M";
    SystemMaxFiles = 10;
  };

  # Tailscale: administrators reach the machine over the tailnet.
  services.tailscale = {
    enable = true;
    # UDP port only; it does not trust the interface
    openFirewall = true;
    # use a tagged key: tagged nodes never expire
    authKeyFile = "/var/lib/rampart/tailscale-authkey";
    useRoutingFeatures = "both";
  };

  # Host firewall: default deny inbound; only the listed ports and trusted
  # interfaces are open.
  networking.firewall = {
    enable = true;
    # all traffic from these interfaces is accepted
    trustedInterfaces = [ "tailscale0" ];
    allowedTCPPorts = [ 80 443 ];
  };
}
