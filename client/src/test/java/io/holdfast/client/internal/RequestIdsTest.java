package io.holdfast.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

class RequestIdsTest {
  @Test
  void idsFromManyThreadsNeverRepeat() throws Exception {
    Set<String> seen = ConcurrentHashMap.newKeySet();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      Thread thread = new Thread(() -> {
        for (int i = 0; i < 20_000; i++) {
          seen.add(RequestIds.next());
        }
      });
      thread.start();
      threads.add(thread);
    }
    for (Thread t : threads) {
      t.join();
    }
    assertEquals(160_000, seen.size());
  }

  @Test
  void twoClientsDrawDifferentPrefixesAndIdsFitTheServersLimit() {
    String a = new RequestIds(new SecureRandom()).nextId();
    String b = new RequestIds(new SecureRandom()).nextId();
    // Same counter value, so they differ only if their random prefixes do.
    assertNotEquals(a, b);
    assertTrue(a.length() <= 40, a);
  }
}
