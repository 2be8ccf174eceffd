# The option reference of services.govnode through nixpkgs' nixosOptionsDoc
# (a flake package and check). docs/nixos-options.md is the same reference,
# rendered by tests/nix/check.sh from the same options with nixpkgs.lib.
{ pkgs }:
let
  inherit (pkgs) lib;
  eval = lib.evalModules {
    modules = [
      ./module.nix
      {
        # Only the options are wanted; the NixOS options the module's config
        # sets are not declared here.
        _module.check = false;
        _module.args = { inherit pkgs; };
      }
    ];
  };
  root = toString ../. + "/";
in
(pkgs.nixosOptionsDoc {
  options = { inherit (eval.options) services; };
  # Declarations as repository paths, not store paths.
  transformOptions =
    opt:
    opt
    // {
      declarations = map (
        d:
        let
          path = lib.removePrefix root (toString d);
        in
        {
          name = path;
          url = path;
        }
      ) opt.declarations;
    };
}).optionsCommonMark
