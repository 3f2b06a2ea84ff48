package io.holdfast.server.security;

import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import io.holdfast.server.config.TlsSettings;
import java.io.Closeable;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.apache.ratis.grpc.GrpcTlsConfig;

/**
 * One port's certificate, key and CA, loaded from PEM files and re-read every reload interval by
 * grpc's reloading key and trust managers: a rotated certificate is served by new connections
 * without a restart, and a bad new file keeps the old credentials (grpc logs the failure).
 */
public final class TlsFiles implements AutoCloseable {
  private final TlsSettings settings;
  private final AdvancedTlsX509KeyManager keyManager = new AdvancedTlsX509KeyManager();
  private final AdvancedTlsX509TrustManager trustManager;
  private final List<Closeable> reloads = new ArrayList<>();

  /**
   * Loads the files now (failing if they are unusable) and schedules their reload on
   * {@code reloader}. {@code checkHostnames}: whether certificates of servers this side dials must
   * name the address dialled (peer traffic: yes).
   */
  public TlsFiles(TlsSettings settings, ScheduledExecutorService reloader, boolean checkHostnames)
      throws IOException, GeneralSecurityException {
    if (!settings.enabled()) {
      throw new IllegalArgumentException("no TLS files in plaintext mode");
    }
    this.settings = settings;
    reloads.add(keyManager.updateIdentityCredentials(settings.cert().toFile(), settings.key().toFile(),
        settings.reloadIntervalMs(), TimeUnit.MILLISECONDS, reloader)::close);
    if (settings.ca() != null) {
      trustManager = AdvancedTlsX509TrustManager.newBuilder()
          .setVerification(checkHostnames
              ? AdvancedTlsX509TrustManager.Verification.CERTIFICATE_AND_HOST_NAME_VERIFICATION
              : AdvancedTlsX509TrustManager.Verification.CERTIFICATE_ONLY_VERIFICATION)
          .build();
      reloads.add(trustManager.updateTrustCredentials(settings.ca().toFile(), settings.reloadIntervalMs(),
          TimeUnit.MILLISECONDS, reloader)::close);
    } else {
      trustManager = null;
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
    for (Closeable c : reloads) {
      try {
        c.close();
      } catch (IOException ignored) {
        // stopping a scheduled reload cannot fail in a way that matters
      }
    }
  }
}
