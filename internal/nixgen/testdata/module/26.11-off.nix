# rampart.nix: NixOS 26.11 module rendered by `rampart nix --release 26.11`
# from policy off.toml, profile baseline. Every option below exists in NixOS 26.11;
# render again rather than editing, and for another release.
{ config, lib, pkgs, ... }:
{
  # Off in the policy (a default: another module may still turn it on).
  services.openssh.enable = lib.mkDefault false;

  # Off in the policy (a default: another module may still turn it on).
  services.fail2ban.enable = lib.mkDefault false;

  # Off in the policy (a default: another module may still turn it on).
  security.auditd.enable = lib.mkDefault false;

  # Off in the policy (a default: another module may still turn it on).
  security.audit.enable = lib.mkDefault false;

  # Off in the policy (a default: another module may still turn it on).
  services.chrony.enable = lib.mkDefault false;

  # Off in the policy (a default: another module may still turn it on).
  services.tailscale.enable = lib.mkDefault false;

  # Off in the policy (a default: another module may still turn it on).
  networking.firewall.enable = lib.mkDefault false;
}
