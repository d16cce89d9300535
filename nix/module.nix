# services.rampart: rampart installed and run as a managed service.
#
#   services.rampart = {
#     enable = true;
#     policy = { admin.users = [ { name = "alice"; authorized_keys = [ "ssh-ed25519 AAAA..." ]; } ]; };
#     guard.enable = true;        # the ban daemon (rampart-guard.service)
#     verify.timer = "daily";     # periodic `rampart verify`
#     verify.publish = true;      # ... pushed to the fleet's JetStream bucket
#     audit.apply = true;         # load the audit watches at boot
#   };
#
# The policy is checked when the system is built (`rampart policy check` in
# a derivation), so a bad policy fails nixos-rebuild, not the boot. The
# guard unit's [Service] directives are the ones of the Debian package's
# packaging/rampart-guard.service (a test compares them).
{ self }:
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.rampart;
  rampart = lib.getExe cfg.package;
  policySource =
    if cfg.policyFile != null then
      cfg.policyFile
    else
      (pkgs.formats.toml { }).generate "rampart-policy.toml" cfg.policy;
  checkedPolicy = pkgs.runCommand "rampart-policy-checked.toml" { nativeBuildInputs = [ cfg.package ]; } ''
    rampart policy check ${policySource}
    cp ${policySource} $out
  '';
  policyPath = "/etc/rampart/policy.toml";

  # Identical to packaging/rampart-guard.service but for the binary's path.
  guardServiceConfig = {
    Type = "exec";
    ExecStart = "${rampart} guard run -p ${policyPath}";
    Restart = "on-failure";
    RestartSec = "2s";
    User = "rampart";
    Group = "rampart";
    SupplementaryGroups = "systemd-journal";
    StateDirectory = "rampart";
    StateDirectoryMode = "0700";
    RuntimeDirectory = "rampart";
    RuntimeDirectoryMode = "0750";
    UMask = "0077";
    AmbientCapabilities = "CAP_NET_ADMIN";
    CapabilityBoundingSet = "CAP_NET_ADMIN";
    NoNewPrivileges = "yes";
    SecureBits = "noroot-locked";
    ProtectSystem = "strict";
    ProtectHome = "yes";
    PrivateTmp = "yes";
    PrivateDevices = "yes";
    PrivateMounts = "yes";
    ProtectHostname = "yes";
    ProtectClock = "yes";
    ProtectKernelTunables = "yes";
    ProtectKernelModules = "yes";
    ProtectKernelLogs = "yes";
    ProtectControlGroups = "yes";
    ProtectProc = "invisible";
    ProcSubset = "pid";
    RestrictAddressFamilies = "AF_NETLINK AF_UNIX AF_INET AF_INET6";
    RestrictNamespaces = "yes";
    RestrictRealtime = "yes";
    RestrictSUIDSGID = "yes";
    LockPersonality = "yes";
    MemoryDenyWriteExecute = "yes";
    RemoveIPC = "yes";
    KeyringMode = "private";
    SystemCallArchitectures = "native";
    SystemCallFilter = [
      "@system-service"
      "~@privileged @resources @mount @obsolete @debug @cpu-emulation @clock @module @raw-io @reboot @swap"
    ];
    SystemCallErrorNumber = "EPERM";
    DevicePolicy = "closed";
    IPAddressDeny = "any";
    IPAddressAllow = "localhost";
    MemoryMax = "512M";
    TasksMax = "64";
    LimitNOFILE = "65536";
  };
in
{
  options.services.rampart = {
    enable = lib.mkEnableOption "rampart (the binary and its policy in /etc/rampart)";
    package = lib.mkOption {
      type = lib.types.package;
      default = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      defaultText = lib.literalExpression "rampart.packages.\${system}.default";
      description = "The rampart package.";
    };
    policy = lib.mkOption {
      type = (pkgs.formats.toml { }).type;
      default = { };
      description = "The policy as a Nix attribute set, rendered to TOML (see `rampart policy init`). Ignored when policyFile is set.";
    };
    policyFile = lib.mkOption {
      type = lib.types.nullOr lib.types.path;
      default = null;
      description = "A policy file to use instead of policy.";
    };
    guard.enable = lib.mkEnableOption "the ban daemon (rampart-guard.service)";
    verify.timer = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "daily";
      description = "When to run `rampart verify` (a systemd OnCalendar value; null = never). The JSON report is kept in /var/lib/rampart/verify.json and the text on the journal.";
    };
    verify.publish = lib.mkEnableOption "publishing each timed `rampart verify` report to the fleet's JetStream key-value bucket rampart-verify (`verify --publish`, with the policy's [fleet] servers and credentials; read back with `rampart fleet status`). A publish that fails fails the unit (exit status 3)";
    audit.apply = lib.mkEnableOption "loading the policy's audit watches at boot (`rampart audit apply`)";
  };

  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ];
    environment.etc."rampart/policy.toml".source = checkedPolicy;

    users.users.rampart = lib.mkIf cfg.guard.enable {
      isSystemUser = true;
      group = "rampart";
      description = "rampart guard";
    };
    users.groups.rampart = lib.mkIf cfg.guard.enable { };

    systemd.services.rampart-guard = lib.mkIf cfg.guard.enable {
      description = "rampart guard: ban brute-force sources in nftables";
      after = [
        "network-pre.target"
        "nftables.service"
        "systemd-journald.service"
      ];
      wants = [ "network-pre.target" ];
      wantedBy = [ "multi-user.target" ];
      restartTriggers = [ checkedPolicy ];
      serviceConfig = guardServiceConfig;
    };

    systemd.services.rampart-verify = lib.mkIf (cfg.verify.timer != null) {
      description = "rampart verify: check this host against its policy";
      after = lib.mkIf cfg.verify.publish [ "network-online.target" ];
      wants = lib.mkIf cfg.verify.publish [ "network-online.target" ];
      serviceConfig = {
        Type = "oneshot";
        StateDirectory = "rampart";
        ExecStart = pkgs.writeShellScript "rampart-verify" ''
          ${rampart} verify -p ${policyPath} --format json${lib.optionalString cfg.verify.publish " --publish"} > /var/lib/rampart/verify.json.new || rc=$?
          mv /var/lib/rampart/verify.json.new /var/lib/rampart/verify.json
          ${rampart} verify -p ${policyPath} || true
          exit ''${rc:-0}
        '';
      };
    };
    systemd.timers.rampart-verify = lib.mkIf (cfg.verify.timer != null) {
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnCalendar = cfg.verify.timer;
        Persistent = true;
      };
    };

    systemd.services.rampart-audit = lib.mkIf cfg.audit.apply {
      description = "rampart audit apply: load the policy's audit watches";
      after = [ "auditd.service" ];
      wants = [ "auditd.service" ];
      wantedBy = [ "multi-user.target" ];
      restartTriggers = [ checkedPolicy ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "${rampart} audit apply -p ${policyPath}";
      };
    };
  };
}
