{
  description = "rampart: host hardening verifier, NixOS module generator and native ban daemon for nftables";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      version = "0.1.0+git${self.shortRev or self.dirtyShortRev or "unknown"}";
    in
    {
      packages = forAllSystems (pkgs: rec {
        rampart = pkgs.callPackage ./nix/package.nix { inherit version; };
        default = rampart;
      });

      overlays.default = final: _prev: {
        rampart = final.callPackage ./nix/package.nix { inherit version; };
      };

      nixosModules.default = import ./nix/module.nix { inherit self; };

      formatter = forAllSystems (pkgs: pkgs.nixfmt-rfc-style);
    };
}
