package io.holdfast.server.security;

import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import io.holdfast.server.config.TlsSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.apache.ratis.grpc.GrpcTlsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One port's certificate, key and CA, loaded from PEM files into grpc's swappable key and trust
 * managers. The files are checked every reload interval and re-read when their modification time
 * changes, so a rotated certificate or CA is used by new connections without a restart; a bad new
 * file keeps the old credentials and is logged. (Our own check, because grpc's periodic reload
 * refuses periods under a minute.)
 */
public final class TlsFiles implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TlsFiles.class);
  private final TlsSettings settings;
  private final AdvancedTlsX509KeyManager keyManager = new AdvancedTlsX509KeyManager();
  private final AdvancedTlsX509TrustManager trustManager;
  private final ScheduledFuture<?> reload;
  private long identityStamp;
  private long trustStamp;

  /**
   * Loads the files now (failing if they are unusable) and checks them for changes on
   * {@code reloader}. {@code checkHostnames}: whether certificates of servers this side dials must
   * name the address dialled (peer traffic: yes).
   */
  public TlsFiles(TlsSettings settings, ScheduledExecutorService reloader, boolean checkHostnames)
      throws IOException, GeneralSecurityException {
    if (!settings.enabled()) {
      throw new IllegalArgumentException("no TLS files in plaintext mode");
    }
    this.settings = settings;
    keyManager.updateIdentityCredentials(settings.cert().toFile(), settings.key().toFile());
    identityStamp = stamp(settings.cert(), settings.key());
    if (settings.ca() != null) {
      trustManager = AdvancedTlsX509TrustManager.newBuilder()
          .setVerification(checkHostnames
              ? AdvancedTlsX509TrustManager.Verification.CERTIFICATE_AND_HOST_NAME_VERIFICATION
              : AdvancedTlsX509TrustManager.Verification.CERTIFICATE_ONLY_VERIFICATION)
          .build();
      trustManager.updateTrustCredentials(settings.ca().toFile());
      trustStamp = stamp(settings.ca());
    } else {
      trustManager = null;
    }
    reload = reloader.scheduleWithFixedDelay(this::reloadChanged, settings.reloadIntervalMs(),
        settings.reloadIntervalMs(), TimeUnit.MILLISECONDS);
  }

  /** Last-modified times folded into one number: any change to any of the files changes it. */
  private static long stamp(Path... files) {
    long h = 17;
    for (Path f : files) {
      try {
        h = h * 31 + Files.getLastModifiedTime(f).toMillis() + Files.size(f);
      } catch (IOException e) {
        h = h * 31 - 1;
      }
    }
    return h;
  }

  private void reloadChanged() {
    long id = stamp(settings.cert(), settings.key());
    if (id != identityStamp) {
      try {
        keyManager.updateIdentityCredentials(settings.cert().toFile(), settings.key().toFile());
        identityStamp = id;
        LOG.info("Reloaded TLS certificate {} and key {}", settings.cert(), settings.key());
      } catch (IOException | GeneralSecurityException | RuntimeException e) {
        // A half-written pair fails here; the next check retries it.
        LOG.warn("Keeping the previous TLS certificate: cannot load {} / {}: {}", settings.cert(), settings.key(),
            e.toString());
      }
    }
    if (trustManager != null) {
      long t = stamp(settings.ca());
      if (t != trustStamp) {
        try {
          trustManager.updateTrustCredentials(settings.ca().toFile());
          trustStamp = t;
          LOG.info("Reloaded trusted CA certificates from {}", settings.ca());
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
          LOG.warn("Keeping the previous trusted CAs: cannot load {}: {}", settings.ca(), e.toString());
        }
      }
    }
  }

  /** The client port's server-side context; requires a client certificate in mtls mode. */
  public SslContext serverContext() throws SSLException {
    // The JDK provider asks the trust manager for its CAs at every handshake, so the CA names sent
    // in the certificate request follow a reloaded CA file; the OpenSSL provider fixes them at build.
    SslContextBuilder b = GrpcSslContexts.configure(SslContextBuilder.forServer(keyManager),
        io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider.JDK);
    if (trustManager != null) {
      b.trustManager(trustManager);
    }
    return b.clientAuth(settings.mutual() ? ClientAuth.REQUIRE : ClientAuth.NONE).build();
  }

  /** Ratis's TLS for peer traffic: the same reloading managers, mutual in mtls mode. */
  public GrpcTlsConfig ratisConfig() {
    return new GrpcTlsConfig(keyManager, trustManager, settings.mutual());
  }

  @Override
  public void close() {
    reload.cancel(false);
  }
}
