# rampart.nix: NixOS 25.05 module rendered by `rampart nix --release 25.05`
# from policy guard.toml, profile tailnet. Every option below exists in NixOS 25.05;
# render again rather than editing, and for another release.
# services.rampart comes from rampart's flake: import its nixosModules.default
# (flake input github:rampart-sec/rampart) next to this module.
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

  # rampart guard bans brute-force sources (ban.engine = "rampart"). services.rampart is
  # declared by rampart's flake (nixosModules.default): it installs rampart, writes the policy
  # to /etc/rampart/policy.toml (a bad policy fails the build) and runs rampart-guard.service.
  # The guard-only [ban] keys (ipv6_prefix, metrics, max_tracked, actions) take effect there.
  services.rampart = {
    enable = true;
    # rampart-guard.service bans brute-force sources in rampart's nftables table
    guard.enable = true;
    # the policy this module was rendered from (written to /etc/rampart/policy.toml, checked
    # when the system is built)
    policy = {
      admin = {
        users = [
          {
            authorized_keys = [
              "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0wmN/Cr3JXqmLW7u+g9pTh+wyqDHpSQEIQczXkVx9q alice@example.org"
            ];
            name = "alice";
            sudo = true;
          }
          {
            authorized_keys = [
              "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy \"\${x}\" \\ ''"
            ];
            name = "deploy";
            sudo = false;
          }
        ];
      };
      audit = {
        backlog_limit = 0;
        enabled = true;
        watches = [
          {
            key = "identity";
            path = "/etc/passwd";
            perms = "wa";
          }
          {
            key = "identity";
            path = "/etc/group";
            perms = "wa";
          }
          {
            key = "ssh";
            path = "/etc/ssh/sshd_config";
            perms = "wa";
          }
          {
            key = "sudo";
            path = "/etc/sudoers";
            perms = "wa";
          }
          {
            key = "cron";
            path = "/etc/crontab";
            perms = "wa";
          }
          {
            key = "systemd";
            path = "/etc/systemd";
            perms = "wa";
          }
        ];
      };
      ban = {
        actions = [
          {
            argv = [ ];
            jails = [ ];
            name = "hook";
            on = [ ];
            retries = 2;
            timeout = "5s";
            type = "webhook";
            url = "https://hooks.example.org/ban?x=\${y}";
          }
          {
            argv = [
              "/run/current-system/sw/bin/logger"
              "-t"
              "rampart"
              "{action} {prefix} '' \${prefix}"
            ];
            jails = [ ];
            name = "log";
            on = [ "ban" ];
            retries = 0;
            timeout = "0s";
            type = "exec";
            url = "";
          }
        ];
        bantime = "1h";
        enabled = true;
        engine = "rampart";
        findtime = "10m";
        ignore = [ "127.0.0.1/8" "::1" "192.168.1.0/24" "2001:db8::/32" ];
        increment = {
          enabled = true;
          factor = 1.5;
          max = "2w";
        };
        ipv6_prefix = 64;
        jails = {
          apache-auth = {
            bantime = "2d";
            enabled = true;
            filter = "fail2ban:/etc/fail2ban/filter.d/apache-auth.conf";
            journal = [ ];
            mode = "";
            paths = [ "/var/log/httpd/error_log" "/var/log/httpd/other_error_log" ];
            ports = [ 80 443 ];
            source = "file";
          };
          nginx-noscript = {
            enabled = true;
            filter = "nginx-noscript";
            journal = [ ];
            maxretry = 6;
            mode = "normal";
            paths = [ "/var/log/nginx/access.log" ];
            ports = [ 80 443 ];
            source = "file";
          };
          sshd = {
            enabled = true;
            filter = "sshd";
            journal = [
              "_SYSTEMD_UNIT=sshd.service"
              "_SYSTEMD_UNIT=ssh.service"
              "_COMM=sshd"
              "_COMM=sshd-session"
              "SYSLOG_IDENTIFIER=sshd"
              "SYSLOG_IDENTIFIER=sshd-session"
            ];
            maxretry = 3;
            mode = "normal";
            paths = [ ];
            ports = [ 22 ];
            source = "journal";
          };
        };
        max_tracked = 5000;
        maxretry = 3;
        metrics = "127.0.0.1:9180";
        socket = "/run/rampart/guard.sock";
        socket_group = "wheel";
        state_dir = "/var/lib/rampart";
        table = "rampart";
      };
      firewall = {
        allowed_tcp_ports = [ ];
        allowed_udp_ports = [ ];
        enabled = true;
        trusted_interfaces = [ ];
      };
      fleet = {
        accept = true;
        accept_from = [ ];
        burst = 1000;
        ca_file = "";
        cert_file = "";
        creds_file = "";
        enabled = false;
        key_file = "";
        nkey_file = "";
        node = "";
        outbox_max = 100000;
        password_file = "";
        rate = 100;
        servers = [ ];
        share = true;
        stream = "RAMPART_BANS";
        user = "";
      };
      journald = {
        max_retention = "1month";
        storage = "persistent";
        system_max_file_size = "1000M";
        system_max_files = 10;
      };
      profile = "tailnet";
      ssh = {
        allow_tcp_forwarding = false;
        client_alive_count_max = 2;
        client_alive_interval = "300s";
        enabled = true;
        kbd_interactive_authentication = false;
        max_auth_tries = 3;
        password_authentication = false;
        permit_root_login = "prohibit-password";
        ports = [ 22 ];
        tailnet_only = true;
        x11_forwarding = false;
      };
      sysctl = {
        "kernel.kptr_restrict" = 2;
        "net.ipv4.conf.all.accept_redirects" = 0;
        "net.ipv4.conf.all.rp_filter" = 1;
        "net.ipv4.conf.all.send_redirects" = 0;
        "net.ipv4.ip_forward" = 0;
        "net.ipv4.tcp_max_syn_backlog" = 2048;
        "net.ipv4.tcp_synack_retries" = 2;
        "net.ipv4.tcp_syncookies" = 1;
      };
      tailnet = {
        addresses = [ "100.64.0.0/10" "fd7a:115c:a1e0::/48" ];
        auth_key_file = "/var/lib/rampart/tailscale-authkey";
        enabled = true;
        interface = "tailscale0";
        open_firewall = true;
        port = 41641;
        use_routing_features = "none";
      };
      time = {
        chrony = true;
        max_offset = "100ms";
        servers = [ ];
      };
    };
  };

  # Kernel audit: auditd records, keyed watches say what changed.
  security.auditd.enable = true;

  # Before 25.11 the audit service runs auditctl -D, loads these rules, then sets
  # -e/-b/-f/-r from the options (backlogLimit defaults to 64).
  security.audit = {
    enable = true;
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

  # Kernel network hardening (written to /etc/sysctl.d/60-nixos.conf).
  boot.kernel.sysctl = {
    "net.ipv4.ip_forward" = 0;
    "net.ipv4.conf.all.accept_redirects" = 0;
    "net.ipv4.conf.all.send_redirects" = 0;
    "net.ipv4.conf.all.rp_filter" = 1;
    "net.ipv4.tcp_syncookies" = 1;
    "net.ipv4.tcp_max_syn_backlog" = 2048;
    "net.ipv4.tcp_synack_retries" = 2;
    "kernel.kptr_restrict" = 2;
  };

  # Accurate time keeps logs and bans comparable.
  # chrony turns systemd-timesyncd off
  services.chrony.enable = true;

  # journald retention. These keys have no options of their own up to 26.05, so they go
  # to extraConfig ([Journal] section). (NixOS has no journald options under systemd.)
  services.journald = {
    storage = "persistent";
    extraConfig = ''
      MaxRetentionSec=1month
      SystemMaxFileSize=1000M
      SystemMaxFiles=10
    '';
  };

  # Tailscale: administrators reach the machine over the tailnet.
  services.tailscale = {
    enable = true;
    # UDP port only; it does not trust the interface
    openFirewall = true;
    # use a tagged key: tagged nodes never expire
    authKeyFile = "/var/lib/rampart/tailscale-authkey";
    useRoutingFeatures = "none";
  };

  # Host firewall: default deny inbound; only the listed ports and trusted
  # interfaces are open.
  networking.firewall = {
    enable = true;
    # all traffic from these interfaces is accepted
    trustedInterfaces = [ "tailscale0" ];
  };
}
