import assert from "node:assert/strict";
import test from "node:test";
import { credentialsPath } from "../lib/client/credentials.js";

// Where login keeps the token: $XDG_CONFIG_HOME when set to an absolute path (the XDG Base
// Directory spec says to ignore a relative one), else ~/.config.

test("credentials live under $XDG_CONFIG_HOME, else ~/.config", () => {
  assert.equal(
    credentialsPath({ XDG_CONFIG_HOME: "/x/conf", HOME: "/home/ann" }),
    "/x/conf/ollama-proxy/credentials.json",
  );
  assert.equal(credentialsPath({ HOME: "/home/ann" }), "/home/ann/.config/ollama-proxy/credentials.json");
  assert.equal(
    credentialsPath({ XDG_CONFIG_HOME: "", HOME: "/home/ann" }),
    "/home/ann/.config/ollama-proxy/credentials.json",
  );
  assert.equal(
    credentialsPath({ XDG_CONFIG_HOME: "conf", HOME: "/home/ann" }),
    "/home/ann/.config/ollama-proxy/credentials.json",
  );
});
