package dev.mnemo.neo4j;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.SettingValueParsers;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.ConnectorPortRegister;
import org.neo4j.configuration.connectors.ConnectorType;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.kernel.internal.GraphDatabaseAPI;

/**
 * Neo4j 5 Community with its Bolt connector, embedded in a small process: what `npm run neo4j`
 * and the test harness run instead of the Docker image (tools/neo4j-embedded/launcher.ts starts it).
 *
 * Arguments (all required except --exit-on-stdin-close, which the launcher always passes):
 *   --home DIR          where the databases, transaction logs and debug.log live
 *   --host HOST         Bolt listen address (127.0.0.1: nothing outside this machine reaches it)
 *   --port N            Bolt port; 0 picks a free one, and the port really bound is printed
 *   --pagecache SIZE    page cache, in Neo4j's size syntax (e.g. 256m)
 *   --exit-on-stdin-close  shut down when stdin closes, so a parent that dies (kill -9 of a test
 *                       run) never leaves an orphaned server behind
 * The password of user `neo4j` comes from the environment (NEO4J_PASSWORD), never the command
 * line, where `ps` would show it; it is set at every start, so a data directory follows it.
 *
 * On stdout, once the server accepts Bolt connections, the lines the launcher waits for:
 *   NEO4J_URI=bolt://HOST:PORT
 *   NEO4J_READY_MS=<start-up time>
 * SIGINT or SIGTERM shuts the databases down cleanly (checkpoint, then exit 0).
 */
public final class EmbeddedNeo4j {
    private EmbeddedNeo4j() {}

    /** Set once built; the shutdown hook may run before that (stdin closed during start-up). */
    private static volatile DatabaseManagementService dbms;

    public static void main(String[] args) throws Exception {
        long started = System.nanoTime();
        Map<String, String> options = parse(args);
        String password = System.getenv("NEO4J_PASSWORD");
        if (password == null || password.length() < 8) {
            fail("NEO4J_PASSWORD must be set to at least 8 characters (Neo4j's minimum)");
        }
        if (options.containsKey("exit-on-stdin-close")) {
            // Watch from the first moment: a parent that dies while the databases are still
            // starting must not leave a server behind either.
            Thread watcher = new Thread(() -> {
                drain(System.in);
                System.exit(0); // runs the shutdown hook
            }, "mnemo-neo4j-stdin");
            watcher.setDaemon(true);
            watcher.start();
        }
        String host = required(options, "host");
        int port = Integer.parseInt(required(options, "port"));

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            DatabaseManagementService running = dbms;
            if (running != null) running.shutdown();
            stopped.countDown();
        }, "mnemo-neo4j-shutdown"));

        dbms = new DatabaseManagementServiceBuilder(Path.of(required(options, "home")))
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(host, port))
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, SettingValueParsers.BYTES.parse(required(options, "pagecache")))
                // Nothing leaves this machine: no usage reports (a report that cannot be sent
                // only adds noise to debug.log).
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                // A development and test server: keep one rotated transaction log and do not
                // preallocate log files, so a test's temporary directory stays small.
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "1 files")
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .build();

        // The initial user neo4j/neo4j must change its password before it may do anything; set
        // ours directly instead, as `neo4j-admin dbms set-initial-password` would.
        dbms.database("system").executeTransactionally(
                "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));

        GraphDatabaseAPI neo4j = (GraphDatabaseAPI) dbms.database("neo4j");
        neo4j.executeTransactionally("RETURN 1");
        ConnectorPortRegister ports = neo4j.getDependencyResolver().resolveDependency(ConnectorPortRegister.class);
        var bound = ports.getLocalAddress(ConnectorType.BOLT);

        System.out.println("NEO4J_URI=bolt://" + host + ":" + bound.getPort());
        System.out.println("NEO4J_READY_MS=" + (System.nanoTime() - started) / 1_000_000);
        System.out.flush();

        stopped.await();
    }

    private static void drain(InputStream in) {
        byte[] buffer = new byte[256];
        try {
            while (in.read(buffer) >= 0) {
                // Anything written to stdin is ignored; only its end matters.
            }
        } catch (IOException ignored) {
            // A broken pipe is an end too.
        }
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--")) fail("unexpected argument: " + arg);
            String name = arg.substring(2);
            if (name.equals("exit-on-stdin-close")) {
                options.put(name, "true");
            } else if (i + 1 < args.length) {
                options.put(name, args[++i]);
            } else {
                fail("--" + name + " needs a value");
            }
        }
        return options;
    }

    private static String required(Map<String, String> options, String name) {
        String value = options.get(name);
        if (value == null) fail("--" + name + " is required");
        return value;
    }

    private static void fail(String message) {
        System.err.println("mnemo-neo4j: " + message);
        System.exit(2);
    }
}
