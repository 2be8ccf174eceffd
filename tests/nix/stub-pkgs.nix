# Just enough of nixpkgs to evaluate the VM tests' testScript without a
# nixpkgs checkout: runNixOSTest returns its argument, and the build-time
# devnet deployment is replaced by a fixture of the same shape.
let
  store = name: "/nix/store/00000000000000000000000000000000-${name}";
  lib = {
    importJSON = path: builtins.fromJSON (builtins.readFile path);
    escapeShellArgs = args: builtins.concatStringsSep " " (map (a: "'${a}'") args);
    hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
    inherit (builtins) listToAttrs;
    optionalAttrs = cond: attrs: if cond then attrs else { };
    mkForce = v: v;
  };
  pkgs = {
    inherit lib;
    stdenv.hostPlatform.system = "x86_64-linux";
    testers.runNixOSTest = test: test;
    runCommand = _name: _env: _script: toString ./fixtures/devnet-reference;
    foundry = store "foundry";
    jq = store "jq";
    yq-go = store "yq-go";
    coreutils = store "coreutils";
  };
  self = {
    packages.x86_64-linux = {
      default = store "govnode";
      govnode-failpoints = store "govnode-failpoints";
    };
    nixosModules.default = { };
  };
in
{ inherit pkgs self; }
