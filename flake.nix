{
  description = "govnode: autonomous DAO governance node, systemd-native";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      # What `govnode version` prints as its commit.
      commit = self.rev or self.dirtyRev or "unknown";
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      # builtins rather than lib.genAttrs: listing the outputs per system then
      # needs no nixpkgs source (tests/nix/check.sh evaluates it offline).
      forAllSystems =
        f:
        builtins.listToAttrs (
          map (system: {
            name = system;
            value = f nixpkgs.legacyPackages.${system};
          }) systems
        );

      # One check per VM test; the file name is the check's name.
      vmTests = {
        vm-round = ./nixos/tests/round.nix;
        vm-timer-persistent = ./nixos/tests/timer-persistent.nix;
        vm-switch = ./nixos/tests/switch.nix;
        vm-watchdog = ./nixos/tests/watchdog.nix;
        vm-failover = ./nixos/tests/failover.nix;
      };
    in
    {
      overlays.default = final: _prev: {
        govnode = final.callPackage ./nixos/package.nix { inherit commit; };
        govnode-failpoints = final.callPackage ./nixos/package.nix {
          inherit commit;
          withFailpoints = true;
        };
      };

      packages = forAllSystems (pkgs: rec {
        govnode = pkgs.callPackage ./nixos/package.nix { inherit commit; };
        govnode-failpoints = pkgs.callPackage ./nixos/package.nix {
          inherit commit;
          withFailpoints = true;
        };
        default = govnode;

        # The option reference of services.govnode, as docs/nixos-options.md
        # has it (tests/nix/check.sh regenerates that file from the module
        # with nixpkgs.lib; this is the same through nixosOptionsDoc).
        nixos-options-doc = import ./nixos/options-doc.nix { inherit pkgs; };
      });

      # The module takes its package from this flake unless the operator sets
      # services.govnode.package; it does not touch nixpkgs.overlays, so it
      # also works where pkgs is read-only (runNixOSTest nodes). The build-time
      # config check runs the build platform's govnode.
      nixosModules.default =
        { pkgs, ... }:
        {
          imports = [ ./nixos/module.nix ];
          services.govnode.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          services.govnode.checkPackage = lib.mkDefault self.packages.${pkgs.stdenv.buildPlatform.system}.default;
        };
      nixosModules.govnode = self.nixosModules.default;

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.default ];
          packages = with pkgs; [
            cargo
            clippy
            rustfmt
            rust-analyzer
            cargo-nextest
            foundry
            solc
            nodejs
            sqlite
            nixfmt
            deadnix
          ];
        };
      });

      # RFC 166 style, as nixpkgs is formatted (`pkgs.nixfmt`; the older
      # name nixfmt-rfc-style is deprecated).
      formatter = forAllSystems (pkgs: pkgs.nixfmt);

      checks = forAllSystems (
        pkgs:
        let
          inherit (pkgs.stdenv.hostPlatform) system;
          govnode = self.packages.${system}.default;
        in
        {
          package = govnode;
          options-doc = self.packages.${system}.nixos-options-doc;

          clippy = govnode.overrideAttrs (old: {
            pname = "govnode-clippy";
            nativeBuildInputs = old.nativeBuildInputs ++ [ pkgs.clippy ];
            buildPhase = ''
              runHook preBuild
              cargo clippy --offline --locked --all-targets --all-features -- -D warnings
              runHook postBuild
            '';
            doCheck = false;
            installPhase = ''
              touch "$out"
            '';
            postInstall = "";
          });

          formatting = pkgs.runCommand "govnode-nixfmt" { nativeBuildInputs = [ pkgs.nixfmt ]; } ''
            cd ${self}
            nixfmt --check $(find . -name '*.nix' | sort)
            touch "$out"
          '';

          # Pure module logic against the unit files, as tests/nix/check.sh
          # does on machines without a Nix store.
          units-match-lib =
            pkgs.runCommand "govnode-units-match-lib"
              {
                nativeBuildInputs = [
                  pkgs.diffutils
                  pkgs.gnused
                ];
                daemon = (import ./nixos/lib.nix).rendered.daemonHardening;
                round = (import ./nixos/lib.nix).rendered.roundHardening;
                timer = (import ./nixos/lib.nix).rendered.timer;
              }
              ''
                block() { sed -n "/^# BEGIN $2/,/^# END $2/p" "$1" | grep -v -e '^#' -e '^$' | LC_ALL=C sort; }
                diff <(printf '%s' "$daemon") <(block ${./systemd/govnode.service} hardening)
                diff <(printf '%s' "$round") <(block ${./systemd/govnode-round.service} hardening)
                diff <(printf '%s' "$timer") <(block ${./systemd/govnode-round.timer} timer)
                touch "$out"
              '';
        }
        // builtins.mapAttrs (_: file: import file { inherit pkgs self; }) vmTests
      );
    };
}
