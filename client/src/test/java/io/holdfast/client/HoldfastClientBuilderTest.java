package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The builder refuses bad settings with a message that names them, before anything connects. */
class HoldfastClientBuilderTest {
  private static String refused(Runnable build) {
    return assertThrows(IllegalArgumentException.class, build::run).getMessage();
  }

  @Test
  void badSettingsAreRefusedByName() {
    assertTrue(refused(() -> HoldfastClient.builder().build()).startsWith("endpoints:"));
    assertEquals("endpoints: 'localhost' is not host:port",
        refused(() -> HoldfastClient.builder().endpoints("localhost").build()));
    assertTrue(refused(() -> HoldfastClient.builder().endpoints("127.0.0.1:1").callTimeout(Duration.ZERO).build())
        .startsWith("callTimeout must be positive"));
    assertTrue(refused(() -> HoldfastClient.builder().memberSync(Duration.ofSeconds(-1))).startsWith("memberSync"));
    assertTrue(refused(() -> HoldfastClient.builder().memberSync(null)).startsWith("memberSync"));
    assertTrue(refused(() -> HoldfastClient.builder().bearerToken("a b")).startsWith("bearerToken"));
  }

  @Test
  void theConfiguredEndpointsAreWhereTheClientStarts() {
    try (HoldfastClient client = HoldfastClient.builder().endpoints("127.0.0.1:1,127.0.0.1:2")
        .memberSync(Duration.ZERO).build()) {
      assertEquals("127.0.0.1:1", client.currentEndpoint());
    }
  }
}
