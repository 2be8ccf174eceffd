# The config services.govnode would write for tests/nix/example-settings.nix:
# the module's defaults (lib.nix) under the operator's settings, rendered to
# the daemon's shape, plus stand-ins for the credentials it would load.
let
  pure = import ../../nixos/lib.nix;
  example = import ./example-settings.nix;

  # Later wins, attribute sets merge recursively: what mkDefault under a
  # plain definition amounts to for these values.
  merge = a: b:
    a // builtins.mapAttrs
      (k: v: if builtins.isAttrs v && builtins.isAttrs (a.${k} or null) then merge a.${k} v else v)
      b;

  defaults = pure.defaultSettings // {
    log = pure.defaultSettings.log // { level = pure.defaultLogLevel; };
  };
  settings = merge defaults example;
in
{
  config = pure.renderSettings settings;
  credentials = map (c: { inherit (c) id; content = pure.dummyCredential c; }) (pure.credentialsOf settings);
  dropIn = pure.credentialsDropIn settings;
  problems = pure.settingsProblems settings;
}
