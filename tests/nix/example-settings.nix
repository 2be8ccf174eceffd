# services.govnode.settings as an operator writes them (the NixOS side of
# examples/config.yaml). tests/nix/check.sh renders them the way the module
# does and feeds the result to `govnode check-config`.
{
  chain = {
    id = 31337;
    name = "anvil";
  };
  dao = {
    kind = "assetdao";
    address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    vote_margin = "60s";
  };
  rpc.endpoints = {
    local = {
      url = "http://127.0.0.1:8545";
      priority = 0;
      max_rps = 25;
    };
    backup = {
      urlFile = "/run/keys/govnode-rpc-backup.url";
      priority = 1;
    };
  };
  nodes = {
    ai-gov-01 = {
      keyFile = "/run/keys/ai-gov-01.key";
      strategy = "conservative";
    };
    ai-gov-02 = {
      keyFile = "/run/keys/ai-gov-02.key";
      strategy = "aggressive";
    };
  };
  api = {
    listen = "127.0.0.1:5001";
    tokenFile = "/run/keys/govnode-api-token";
  };
}
