package io.holdfast.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * What only starting can judge (files the config names, ports it binds): a message naming the key,
 * exit 2, no stack trace.
 */
class HoldfastServerMainTest {
  @TempDir
  Path dir;

  private String config(String security) {
    return String.join("\n",
        "node-id: n1",
        "data-dir: " + dir.resolve("data"),
        "peers:",
        "  n1: {peer: 127.0.0.1:47411, client: 127.0.0.1:47401}",
        "peer-tls: plaintext",
        security,
        "");
  }

  private String[] run(String yaml) throws Exception {
    Path file = Files.writeString(dir.resolve("node.yaml"), yaml);
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream saved = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int code;
    try {
      code = new CommandLine(new HoldfastServerMain()).execute("--config", file.toString());
    } finally {
      System.setErr(saved);
    }
    return new String[] {Integer.toString(code), err.toString(StandardCharsets.UTF_8)};
  }

  @Test
  void aKeyThatIsNotPkcs8PemIsABadConfigurationNamingItsKey() throws Exception {
    Path pem = Files.writeString(dir.resolve("server.pem"), "-----BEGIN CERTIFICATE-----\nnot base64\n"
        + "-----END CERTIFICATE-----\n");
    Path key = Files.writeString(dir.resolve("server.key"), "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"
        + "-----END RSA PRIVATE KEY-----\n");
    String[] r = run(config("client-tls: tls\nclient-tls-cert: " + pem + "\nclient-tls-key: " + key));
    assertEquals("2", r[0], r[1]);
    assertTrue(r[1].contains("holdfast-server: bad configuration: client-tls:"), r[1]);
    assertTrue(!r[1].contains("\tat "), "no stack trace: " + r[1]);
  }

  @Test
  void aDirectoryWhereAFileBelongsIsRefusedByTheLoader() throws Exception {
    String[] r = run(config("client-tls: tls\nclient-tls-cert: " + dir + "\nclient-tls-key: " + dir));
    assertEquals("2", r[0], r[1]);
    assertTrue(r[1].contains("client-tls-cert") && r[1].contains("not a readable file"), r[1]);
  }

  @Test
  void aMalformedTokenFileIsABadConfigurationNamingItsKey() throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), "alice\n");
    String[] r = run(config("client-tls: plaintext\nauth-token-file: " + tokens));
    assertEquals("2", r[0], r[1]);
    assertTrue(r[1].contains("holdfast-server: bad configuration: auth-token-file"), r[1]);
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private String node(int peer, int client, String admin) {
    return String.join("\n",
        "node-id: n1",
        "data-dir: " + dir.resolve("data"),
        "peers:",
        "  n1: {peer: 127.0.0.1:" + peer + ", client: 127.0.0.1:" + client + "}",
        "peer-tls: plaintext",
        "client-tls: plaintext",
        "admin-address: " + admin,
        "");
  }

  @Test
  void anAdminPortInUseStopsTheNodeBeforeItsRaftDivisionStarts() throws Exception {
    int peer = freePort();
    int client = freePort();
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      String[] r = run(node(peer, client, "127.0.0.1:" + taken.getLocalPort()));
      assertEquals("2", r[0], r[1]);
      assertTrue(r[1].contains("holdfast-server: bad configuration: admin-address: cannot listen on 127.0.0.1:"
          + taken.getLocalPort()), r[1]);
      assertTrue(!r[1].contains("\tat "), "no stack trace: " + r[1]);
    }
    // Nothing was left listening, and Ratis never made its group's directory.
    try (ServerSocket again = new ServerSocket(peer, 1, InetAddress.getLoopbackAddress());
        ServerSocket again2 = new ServerSocket(client, 1, InetAddress.getLoopbackAddress())) {
      assertEquals(peer, again.getLocalPort());
    }
    Path raftDir = dir.resolve("data").resolve("raft");
    if (Files.isDirectory(raftDir)) {
      try (var files = Files.list(raftDir)) {
        // Ratis names its group's directory by the group id, a UUID.
        assertTrue(files.noneMatch(p -> p.getFileName().toString().matches("[0-9a-f-]{36}")),
            "a Raft group directory was made");
      }
    }
  }

  @Test
  void twoKeysNamingOneSocketInDifferentWordsAreRefusedNamingBoth() throws Exception {
    int peer = freePort();
    int client = freePort();
    String[] r = run(node(peer, client, "localhost:" + client));
    assertEquals("2", r[0], r[1]);
    assertTrue(r[1].contains("admin-address: cannot listen on localhost:" + client), r[1]);
    assertTrue(r[1].contains("peers.n1 (client address) is 127.0.0.1:" + client), r[1]);
  }
}
