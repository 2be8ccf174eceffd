# The govnode package: the binary, its systemd units (from systemd/, with the
# store paths substituted for the FHS ones) and the operator docs.
{
  lib,
  stdenv,
  rustPlatform,
  coreutils,
  installShellFiles,
  # The revision `govnode version` prints (the flake passes self.rev); a
  # build has no .git to ask.
  commit ? "unknown",
  # Builds the `fail` failpoints in; only for tests that inject faults (the
  # VM test's watchdog check). Never for deployments.
  withFailpoints ? false,
}:
let
  root = ../.;
  inherit (lib.importTOML (root + "/Cargo.toml")) package;
  fs = lib.fileset;
in
rustPlatform.buildRustPackage {
  pname = if withFailpoints then "govnode-failpoints" else "govnode";
  inherit (package) version;

  # What the build reads and what it installs (units, docs), nothing else:
  # an edit of a Nix file, a test, a script, an example or the contracts'
  # Solidity leaves the package as it is. The contract artifacts are compiled into the binary (`govnode
  # devnet`); the bench target must exist for cargo to read the manifest.
  src = fs.toSource {
    inherit root;
    fileset = fs.unions [
      (root + "/Cargo.toml")
      (root + "/Cargo.lock")
      (root + "/build.rs")
      (root + "/src")
      (root + "/benches")
      (root + "/contracts/artifacts/TestToken.json")
      (root + "/contracts/artifacts/TestAssetDAO.json")
      (root + "/contracts/artifacts/Multicall3.json")
      (fs.fileFilter (file: file.hasExt "service" || file.hasExt "timer") (root + "/systemd"))
      (root + "/docs")
      (root + "/README.md")
    ];
  };

  cargoLock.lockFile = root + "/Cargo.lock";

  env.GOVNODE_COMMIT = commit;

  nativeBuildInputs = [ installShellFiles ];

  buildFeatures = lib.optionals withFailpoints [ "failpoints" ];

  # Only the unit tests run in the build sandbox: the integration tests under
  # tests/ start anvil and the daemon and talk to them over the network,
  # which the sandbox does not have. The flake's VM tests cover that ground.
  cargoTestFlags = [ "--lib" ];
  checkFeatures = lib.optionals withFailpoints [ "failpoints" ];

  postInstall = ''
    for unit in systemd/*.service systemd/*.timer; do
      install -Dm444 "$unit" "$out/lib/systemd/system/$(basename "$unit")"
    done
    # The units name the FHS paths of a distribution package; the timer
    # links the docs too.
    substituteInPlace "$out"/lib/systemd/system/*.service \
      --replace-fail /usr/bin/govnode "$out/bin/govnode" \
      --replace-quiet "ExecReload=kill " "ExecReload=${coreutils}/bin/kill "
    substituteInPlace "$out"/lib/systemd/system/* \
      --replace-fail /usr/share/doc/govnode "$out/share/doc/govnode"

    mkdir -p "$out/share/doc/govnode"
    cp -r docs/. "$out/share/doc/govnode/"
    install -Dm444 README.md "$out/share/doc/govnode/README.md"
  ''
  # Completions and the man page come from the binary's own CLI definition,
  # so they exist only where the build can run what it built.
  + lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    installShellCompletion --cmd govnode \
      --bash <("$out/bin/govnode" completions bash) \
      --zsh <("$out/bin/govnode" completions zsh) \
      --fish <("$out/bin/govnode" completions fish)
    "$out/bin/govnode" man > govnode.1
    installManPage govnode.1
  '';

  # homepage and changelog come from Cargo.toml's `homepage` and
  # `repository` (with the changelog of the release's tag), so the package
  # and the crate name one place; a Cargo.toml without them leaves them out
  # rather than naming a guessed address.
  meta = {
    inherit (package) description;
    license = lib.licenses.asl20;
    mainProgram = "govnode";
    platforms = lib.platforms.linux;
  }
  // lib.optionalAttrs (package ? homepage) { inherit (package) homepage; }
  // lib.optionalAttrs (package ? repository) {
    changelog = "${package.repository}/blob/v${package.version}/CHANGELOG.md";
  };
}
