# rampart as a Nix package: one static binary, version stamped.
# vendorHash is the NAR hash of `go mod vendor`'s output; a test
# (packaging/flake_test.go) recomputes it and fails when go.sum moved
# without it.
{
  lib,
  buildGoModule,
  version ? "0.1.0",
}:
buildGoModule {
  pname = "rampart";
  inherit version;
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../go.mod
      ../go.sum
      ../cmd
      ../internal
      ../packaging
    ];
  };
  vendorHash = "sha256-dTlHM2Zn/kpmbjEohsQKvBTEzmAaT777zLKgGiWugys=";
  subPackages = [ "cmd/rampart" ];
  env.CGO_ENABLED = 0;
  ldflags = [
    "-s"
    "-w"
    "-X github.com/rampart-sec/rampart/internal/version.Version=${version}"
  ];
  # The tests need root, network namespaces and real daemons (RAMPART_E2E);
  # they run in the project's CI, not in the sandbox.
  doCheck = false;
  meta = {
    description = "Host hardening verifier and native ban daemon for nftables";
    mainProgram = "rampart";
    platforms = lib.platforms.linux;
  };
}
