# The govnode package: the binary, its systemd units (from systemd/, with the
# binary's store path substituted) and the operator docs.
{ lib
, rustPlatform
, coreutils
  # Builds the `fail` failpoints in; only for tests that inject faults (the
  # VM test's watchdog check). Never for deployments.
, withFailpoints ? false
}:
let
  root = ../.;
  cargoToml = builtins.fromTOML (builtins.readFile (root + "/Cargo.toml"));
  # Build outputs, the cached test rootfs and npm tools are not sources.
  excluded = [ "target" "result" "tests/systemd/.rootfs" "tools/node_modules" ".git" ];
  relative = path: lib.removePrefix (toString root + "/") (toString path);
in
rustPlatform.buildRustPackage {
  pname = if withFailpoints then "govnode-failpoints" else "govnode";
  inherit (cargoToml.package) version;

  src = lib.cleanSourceWith {
    src = root;
    filter = path: _type: !(builtins.elem (relative path) excluded);
  };

  cargoLock.lockFile = root + "/Cargo.lock";

  buildFeatures = lib.optionals withFailpoints [ "failpoints" ];

  # Only the unit tests run in the build sandbox: the integration tests under
  # tests/ start anvil and the daemon and talk to them over the network,
  # which the sandbox does not have. The flake's VM test covers that ground.
  cargoTestFlags = [ "--lib" ];
  checkFeatures = lib.optionals withFailpoints [ "failpoints" ];

  postInstall = ''
    for unit in systemd/*.service systemd/*.timer; do
      install -Dm444 "$unit" "$out/lib/systemd/system/$(basename "$unit")"
    done
    # The units name the FHS paths of a distribution package.
    substituteInPlace "$out"/lib/systemd/system/*.service \
      --replace-fail /usr/bin/govnode "$out/bin/govnode" \
      --replace-quiet /usr/share/doc/govnode "$out/share/doc/govnode" \
      --replace-quiet "ExecReload=kill " "ExecReload=${coreutils}/bin/kill "

    if [ -d docs ]; then
      mkdir -p "$out/share/doc/govnode"
      cp -r docs/. "$out/share/doc/govnode/"
    fi
    for doc in README.md CHANGELOG.md LICENSE; do
      if [ -f "$doc" ]; then install -Dm444 "$doc" "$out/share/doc/govnode/$doc"; fi
    done
  '';

  meta = {
    description = cargoToml.package.description;
    license = lib.licenses.asl20;
    mainProgram = "govnode";
    platforms = lib.platforms.linux;
  };
}
