package io.holdfast.server.ops;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.Histogram;
import com.codahale.metrics.Meter;
import com.codahale.metrics.Metric;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.MetricRegistryListener;
import com.codahale.metrics.Timer;
import org.apache.ratis.metrics.MetricRegistries;
import org.apache.ratis.metrics.dropwizard3.Dm3RatisMetricRegistryImpl;

/**
 * Mirrors Ratis's own metrics into the node's registry: every one under its Ratis name, and the
 * ones SREs alert on under holdfast names as well (log sync = fsync, snapshot duration).
 *
 * <p>Must run before the first Raft server is built: with no reporter registration, Ratis's
 * Dropwizard 3 module starts a JMX reporter that Dropwizard 4 no longer has, and the server fails
 * to start. Ratis's registry list is JVM-wide; one node per process is how Holdfast runs.
 */
public final class RatisMetricsBridge {
  private static volatile MetricRegistry target;
  private static boolean installed;

  private RatisMetricsBridge() {}

  public static synchronized void install(MetricRegistry registry) {
    target = registry;
    if (installed) {
      return;
    }
    installed = true;
    MetricRegistries.global().addReporterRegistration(r -> {
      if (r instanceof Dm3RatisMetricRegistryImpl dm) {
        dm.getDropWizardMetricRegistry().addListener(new Mirror());
      }
    }, r -> { });
  }

  private static final class Mirror extends MetricRegistryListener.Base {
    private static void mirror(String name, Metric m) {
      MetricRegistry r = target;
      if (r == null) {
        return;
      }
      register(r, "ratis." + name, m);
      if (name.endsWith(".syncTime")) {
        register(r, "holdfast_raft_log_sync_duration_seconds", m);
      } else if (name.endsWith(".takeSnapshot")) {
        register(r, "holdfast_raft_snapshot_duration_seconds", m);
      }
    }

    private static void register(MetricRegistry r, String name, Metric m) {
      try {
        r.register(name, m);
      } catch (IllegalArgumentException alreadyThere) {
        // the same metric seen twice (a registry re-created after a restart of the division)
      }
    }

    @Override
    public void onGaugeAdded(String name, Gauge<?> gauge) {
      mirror(name, gauge);
    }

    @Override
    public void onCounterAdded(String name, Counter counter) {
      mirror(name, counter);
    }

    @Override
    public void onHistogramAdded(String name, Histogram histogram) {
      mirror(name, histogram);
    }

    @Override
    public void onMeterAdded(String name, Meter meter) {
      mirror(name, meter);
    }

    @Override
    public void onTimerAdded(String name, Timer timer) {
      mirror(name, timer);
    }
  }
}
