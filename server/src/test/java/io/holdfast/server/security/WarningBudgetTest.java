package io.holdfast.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class WarningBudgetTest {
  @Test
  void aFloodOfRefusalsLogsItsBudgetThenHowManyWentUnlogged() throws Exception {
    Logger log = (Logger) LoggerFactory.getLogger("warning-budget-test");
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    log.addAppender(lines);
    WarningBudget budget = new WarningBudget(log, 5, 200);
    for (int i = 0; i < 10_000; i++) {
      budget.warn("Refused call {} from {}", i, "10.0.0.9");
    }
    assertEquals(5, lines.list.size(), "10,000 refusals made " + lines.list.size() + " lines");
    assertEquals("Refused call 0 from 10.0.0.9", lines.list.get(0).getFormattedMessage());
    assertEquals(9_995, budget.suppressed());

    Thread.sleep(250); // the next window
    budget.warn("Refused call {} from {}", "late", "10.0.0.9");
    assertEquals(7, lines.list.size());
    assertTrue(lines.list.get(5).getFormattedMessage().contains("9995 more"), lines.list.get(5).getFormattedMessage());
    assertEquals("Refused call late from 10.0.0.9", lines.list.get(6).getFormattedMessage());
  }

  /** Stale tokens refused in a loop (a fence check with an old token): the same budget, at INFO. */
  @Test
  void infoLinesKeepTheSameBudget() {
    Logger log = (Logger) LoggerFactory.getLogger("warning-budget-info-test");
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    log.addAppender(lines);
    WarningBudget budget = new WarningBudget(log, 3, 60_000);
    for (int i = 0; i < 1_000; i++) {
      budget.info("stale token refused: {}", i);
    }
    assertEquals(3, lines.list.size());
    assertEquals(ch.qos.logback.classic.Level.INFO, lines.list.get(0).getLevel());
    assertEquals(997, budget.suppressed());
  }
}
