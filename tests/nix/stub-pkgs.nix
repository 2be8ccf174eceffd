# Just enough of nixpkgs to evaluate the VM tests' testScript without a
# nixpkgs checkout: runNixOSTest returns its argument, builds return fake
# store paths (their scripts are never run), packages are names in the store.
let
  store = name: "/nix/store/00000000000000000000000000000000-${name}";
  lib = {
    importJSON = path: builtins.fromJSON (builtins.readFile path);
    escapeShellArgs = args: builtins.concatStringsSep " " (map (a: "'${a}'") args);
    inherit (builtins) listToAttrs;
    mkForce = v: v;
  };
  pkgs = {
    inherit lib;
    stdenv.hostPlatform.system = "x86_64-linux";
    testers.runNixOSTest = test: test;
    runCommand =
      name: _env: _script:
      store name;
    foundry = store "foundry";
    curl = store "curl";
    jq = store "jq";
    sqlite = store "sqlite";
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
{
  inherit pkgs self;
  # What runNixOSTest passes a testScript that is a function.
  testArgs.nodes.machine.system.build.toplevel = store "nixos-system-machine";
}
