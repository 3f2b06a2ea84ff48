package io.holdfast.server.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Certificates made at test time with the {@code openssl} command (no keys in the repository): a
 * CA per call to {@link #newCa}, and leaf certificates it signs for servers and clients (EC P-256,
 * PKCS#8 keys, valid two days, usable for both server and client auth).
 */
public final class TestPki {
  private final Path dir;
  private int serial;

  public TestPki(Path dir) {
    this.dir = dir;
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A certificate and its key, as PEM files. */
  public record Pem(Path cert, Path key) {}

  public Pem newCa(String name) {
    Path cert = dir.resolve(name + "-ca.pem");
    Path key = dir.resolve(name + "-ca.key");
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key.toString(), "-out", cert.toString(), "-days", "2", "-subj", "/CN=" + name + " test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    return new Pem(cert, key);
  }

  /**
   * A certificate for {@code cn}, signed by {@code ca}, naming 127.0.0.1 and localhost (so it also
   * serves a loopback node) plus {@code extraSans} (e.g. "DNS:agent-7", "URI:spiffe://x/y").
   */
  public Pem issue(Pem ca, String cn, String... extraSans) {
    String base = cn.replaceAll("[^A-Za-z0-9_-]", "_") + "-" + (++serial);
    Path cert = dir.resolve(base + ".pem");
    Path key = dir.resolve(base + ".key");
    Path csr = dir.resolve(base + ".csr");
    Path ext = dir.resolve(base + ".ext");
    List<String> sans = new ArrayList<>(List.of(extraSans));
    sans.add("IP:127.0.0.1");
    sans.add("DNS:localhost");
    try {
      Files.writeString(ext, "subjectAltName=" + String.join(",", sans) + "\nbasicConstraints=CA:FALSE\n"
          + "keyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth,clientAuth\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key.toString(),
        "-out", csr.toString(), "-subj", "/O=holdfast tests/CN=" + cn);
    openssl("x509", "-req", "-in", csr.toString(), "-CA", ca.cert().toString(), "-CAkey", ca.key().toString(),
        "-set_serial", Integer.toString(1000 + serial), "-out", cert.toString(), "-days", "2", "-extfile",
        ext.toString());
    return new Pem(cert, key);
  }

  private void openssl(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add("openssl");
    cmd.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException("openssl failed: " + String.join(" ", cmd) + "\n" + out);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
