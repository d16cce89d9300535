# rampart.nix: NixOS 25.11 module rendered by `rampart nix --release 25.11`
# from policy off.toml, profile baseline. Every option below exists in NixOS 25.11;
# render again rather than editing, and for another release.
{ config, lib, pkgs, ... }:
{
  # Off in the policy.
  services.openssh.enable = false;

  # Off in the policy.
  services.fail2ban.enable = false;

  # Off in the policy.
  security.auditd.enable = false;

  # Off in the policy.
  security.audit.enable = false;

  # Off in the policy.
  services.chrony.enable = false;

  # Off in the policy.
  services.tailscale.enable = false;

  # Off in the policy.
  networking.firewall.enable = false;
}
