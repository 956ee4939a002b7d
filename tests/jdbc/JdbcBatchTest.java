// JDBC client test for cdf_fdw: the write pattern of Java ETL tools (NiFi PutDatabaseRecord, Talend
// tPostgresqlOutput, Pentaho/Hop "Table output"): PreparedStatement.addBatch()/executeBatch() with
// autocommit off and a commit per batch, once with reWriteBatchedInserts=false (one INSERT
// execution per row, pipelined; named server-side statements after prepareThreshold) and once with
// reWriteBatchedInserts=true (pgjdbc folds the batch into multi-row INSERT ... VALUES (...),(...)).
//
// Writes 2,500 assets (metadata as json through PGobject) and 10,000 double datapoints (timestamps
// through setObject(OffsetDateTime)) and checks through the CDF emulator's admin API that every row
// arrived with the right fields. Prints one line per check, then "N passed, M failed"; exit status 1
// on any failure.
//
// Environment: PGHOST, PGPORT, PGDATABASE, PGUSER (PGPASSWORD if needed) for a database where the
// gateway exists (extension, server cdf, user mapping, IMPORT FOREIGN SCHEMA cdf ... INTO
// cdf_tables); CDF_EMULATOR_URL (the emulator behind server cdf); CDF_PROJECT (default demo).
// Run with tests/jdbc/run.sh.

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.postgresql.util.PGobject;

public class JdbcBatchTest {
    static final int ASSETS = 2_500;
    static final int SERIES = 10;
    static final int DATAPOINTS = 10_000;
    static final int BATCH = 500; // rows per executeBatch() + commit, like an ETL tool's batch size
    /** 2024-01-01T00:00:00Z in ms; datapoint i of series s is at BASE_MS + i * 1001 + s */
    static final long BASE_MS = 1_704_067_200_000L;

    static int passed = 0, failed = 0;

    static void check(boolean ok, String what) {
        if (ok) {
            passed++;
            System.out.println("PASS " + what);
        } else {
            failed++;
            System.out.println("FAIL " + what);
        }
    }

    static String env(String name, String dflt) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? dflt : v;
    }

    static final String EMULATOR = env("CDF_EMULATOR_URL", "http://127.0.0.1:54081").replaceAll("/+$", "");
    static final String PROJECT = env("CDF_PROJECT", "demo");
    static final HttpClient HTTP = HttpClient.newHttpClient();

    // ---- the rows we write ------------------------------------------------------------------

    static String assetXid(int i) { return String.format("jdbc-asset-%05d", i); }

    static String assetName(int i) { return "Pump " + i + " – Ålesund \"north\""; }

    /** metadata as a JSON text; values are strings, one with characters JSON must escape */
    static Map<String, Object> assetMetadata(int i) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("source", "jdbc");
        m.put("row", Integer.toString(i));
        m.put("note", "tab\there, quote \" and backslash \\ ✓");
        return m;
    }

    static String seriesXid(int s) { return "jdbc-ts-" + s; }

    /** datapoint k (0..DATAPOINTS-1) goes to series k % SERIES */
    static long pointMs(int k) { return BASE_MS + (long) (k / SERIES) * 1001L + (k % SERIES); }

    static double pointValue(int k) { return k * 0.5 - 1234.125; }

    // ---- the test ---------------------------------------------------------------------------

    public static void main(String[] args) {
        try {
            run();
        } catch (Throwable t) {
            check(false, "unexpected exception: " + t);
            t.printStackTrace(System.out);
        }
        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }

    static void run() throws Exception {
        String url = "jdbc:postgresql://" + env("PGHOST", "127.0.0.1") + ":" + env("PGPORT", "5432") + "/"
                + env("PGDATABASE", "postgres");
        System.out.println("# " + url + " as " + env("PGUSER", "postgres") + ", emulator " + EMULATOR);

        int reset = http("POST", "/_admin/reset").statusCode();
        check(reset / 100 == 2, "emulator reset (HTTP " + reset + ")");

        try (Connection c = connect(url, false)) {
            c.setAutoCommit(true);
            try (Statement st = c.createStatement()) {
                StringBuilder sql = new StringBuilder("INSERT INTO cdf_tables.time_series (external_id, name) VALUES ");
                for (int s = 0; s < SERIES; s++) {
                    sql.append(s == 0 ? "" : ", ").append("('").append(seriesXid(s)).append("', 'JDBC series ").append(s).append("')");
                }
                int n = st.executeUpdate(sql.toString());
                check(n == SERIES, "created " + SERIES + " time series through cdf_tables.time_series (update count " + n + ")");
            }
        }

        // half of the rows with reWriteBatchedInserts=false, half with true
        for (boolean rewrite : new boolean[] {false, true}) {
            int aFrom = rewrite ? ASSETS / 2 : 0, aTo = rewrite ? ASSETS : ASSETS / 2;
            int dFrom = rewrite ? DATAPOINTS / 2 : 0, dTo = rewrite ? DATAPOINTS : DATAPOINTS / 2;
            String tag = "reWriteBatchedInserts=" + rewrite;
            try (Connection c = connect(url, rewrite)) {
                c.setAutoCommit(false);
                try {
                    int[] counts = insertAssets(c, aFrom, aTo);
                    check(countsOk(counts, aTo - aFrom), tag + ": executeBatch of " + (aTo - aFrom) + " assets reported success");
                } catch (SQLException e) {
                    check(false, tag + ": assets executeBatch failed: " + describe(e));
                    c.rollback();
                }
                try {
                    int[] counts = insertDatapoints(c, dFrom, dTo);
                    check(countsOk(counts, dTo - dFrom), tag + ": executeBatch of " + (dTo - dFrom) + " double_datapoints reported success");
                } catch (SQLException e) {
                    check(false, tag + ": double_datapoints executeBatch failed: " + describe(e));
                    c.rollback();
                }
            }
            List<Object> stored = items("assets");
            check(stored.size() == aTo, tag + ": emulator holds " + stored.size() + " assets, expected " + aTo);
            for (String ep : new String[] {"POST /assets", "POST /timeseries/data"}) {
                Map<String, Object> st = endpointStats(ep);
                long req = st == null ? 0 : num(st.get("requests")), max = st == null ? 0 : num(st.get("max_items"));
                System.out.println("# after " + tag + ": " + ep + " " + req + " requests so far, max " + max + " items per request");
            }
        }

        verifyAssets();
        verifyDatapoints();
    }

    static Connection connect(String url, boolean rewrite) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", env("PGUSER", "postgres"));
        String pw = System.getenv("PGPASSWORD");
        if (pw != null) p.setProperty("password", pw);
        p.setProperty("reWriteBatchedInserts", Boolean.toString(rewrite));
        p.setProperty("ApplicationName", "cdf_fdw JdbcBatchTest");
        return DriverManager.getConnection(url, p);
    }

    static int[] insertAssets(Connection c, int from, int to) throws SQLException {
        List<Integer> counts = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO cdf_tables.assets (external_id, name, metadata) VALUES (?, ?, ?)")) {
            for (int i = from; i < to; i++) {
                ps.setString(1, assetXid(i));
                ps.setString(2, assetName(i));
                PGobject json = new PGobject();
                json.setType("json");
                json.setValue(Json.write(assetMetadata(i)));
                ps.setObject(3, json);
                ps.addBatch();
                if ((i - from + 1) % BATCH == 0 || i == to - 1) {
                    for (int n : ps.executeBatch()) counts.add(n);
                    c.commit();
                }
            }
        }
        return counts.stream().mapToInt(Integer::intValue).toArray();
    }

    static int[] insertDatapoints(Connection c, int from, int to) throws SQLException {
        List<Integer> counts = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO cdf_tables.double_datapoints (external_id, timestamp, value) VALUES (?, ?, ?)")) {
            for (int k = from; k < to; k++) {
                ps.setString(1, seriesXid(k % SERIES));
                ps.setObject(2, OffsetDateTime.ofInstant(Instant.ofEpochMilli(pointMs(k)), ZoneOffset.UTC));
                ps.setDouble(3, pointValue(k));
                ps.addBatch();
                if ((k - from + 1) % (BATCH * 2) == 0 || k == to - 1) {
                    for (int n : ps.executeBatch()) counts.add(n);
                    c.commit();
                }
            }
        }
        return counts.stream().mapToInt(Integer::intValue).toArray();
    }

    /** every row reported as 1 row, or as SUCCESS_NO_INFO (what rewritten batches report) */
    static boolean countsOk(int[] counts, int rows) {
        if (counts.length != rows) return false;
        for (int n : counts) if (n != 1 && n != Statement.SUCCESS_NO_INFO) return false;
        return true;
    }

    static String describe(SQLException e) {
        StringBuilder b = new StringBuilder();
        for (SQLException x = e; x != null; x = x.getNextException()) {
            b.append("[").append(x.getSQLState()).append("] ").append(x.getMessage()).append(" ");
        }
        return b.toString().trim();
    }

    // ---- verification through the emulator's admin API --------------------------------------

    @SuppressWarnings("unchecked")
    static void verifyAssets() throws Exception {
        List<Object> stored = items("assets");
        check(stored.size() == ASSETS, "assets: emulator holds " + stored.size() + " items, expected " + ASSETS);
        Map<String, Map<String, Object>> byXid = new HashMap<>();
        int dupes = 0;
        for (Object o : stored) {
            Map<String, Object> a = (Map<String, Object>) o;
            if (byXid.put((String) a.get("externalId"), a) != null) dupes++;
        }
        check(dupes == 0, "assets: no external id stored twice (" + dupes + " duplicates)");
        int missing = 0, badName = 0, badMeta = 0;
        String firstBad = null;
        for (int i = 0; i < ASSETS; i++) {
            Map<String, Object> a = byXid.get(assetXid(i));
            if (a == null) {
                missing++;
                continue;
            }
            if (!assetName(i).equals(a.get("name"))) {
                badName++;
                if (firstBad == null) firstBad = assetXid(i) + " name=" + Json.write(a.get("name"));
            }
            if (!assetMetadata(i).equals(a.get("metadata"))) {
                badMeta++;
                if (firstBad == null) firstBad = assetXid(i) + " metadata=" + Json.write(a.get("metadata"));
            }
        }
        check(missing == 0, "assets: every external id jdbc-asset-00000..02499 arrived (" + missing + " missing)");
        check(badName == 0, "assets: every name equals what was inserted (" + badName + " differ)" + (firstBad != null ? ", e.g. " + firstBad : ""));
        check(badMeta == 0, "assets: every metadata object equals what was inserted (" + badMeta + " differ)");
        for (int i : new int[] {0, 1249, 1250, 2499}) {
            Map<String, Object> a = byXid.get(assetXid(i));
            boolean ok = a != null && assetName(i).equals(a.get("name"))
                    && assetMetadata(i).equals(a.get("metadata")) && a.get("parentId") == null
                    && a.get("id") instanceof Number && a.get("createdTime") instanceof Number;
            check(ok, "assets: " + assetXid(i) + " field by field: " + (a == null ? "absent" : Json.write(a)));
        }

        Map<String, Object> st = endpointStats("POST /assets");
        long items = st == null ? -1 : num(st.get("items"));
        long maxItems = st == null ? -1 : num(st.get("max_items"));
        long requests = st == null ? -1 : num(st.get("requests"));
        check(items == ASSETS, "stats POST /assets: " + items + " items in " + requests + " requests, expected " + ASSETS + " items");
        check(maxItems >= 1 && maxItems <= 1000, "stats POST /assets: max items per request " + maxItems + " <= 1000");
    }

    @SuppressWarnings("unchecked")
    static void verifyDatapoints() throws Exception {
        List<Object> series = items("timeseries/data");
        Map<String, List<Object>> bySeries = new HashMap<>();
        long total = 0;
        for (Object o : series) {
            Map<String, Object> s = (Map<String, Object>) o;
            List<Object> dps = (List<Object>) s.get("datapoints");
            bySeries.put((String) s.get("externalId"), dps);
            total += dps == null ? 0 : dps.size();
        }
        check(total == DATAPOINTS, "double_datapoints: emulator holds " + total + " datapoints, expected " + DATAPOINTS);
        int wrong = 0;
        String firstWrong = null;
        for (int s = 0; s < SERIES; s++) {
            List<Object> dps = bySeries.get(seriesXid(s));
            Map<Long, Object> byTs = new HashMap<>();
            if (dps != null) for (Object o : dps) {
                Map<String, Object> p = (Map<String, Object>) o;
                byTs.put(num(p.get("timestamp")), p.get("value"));
            }
            for (int k = s; k < DATAPOINTS; k += SERIES) {
                Object v = byTs.get(pointMs(k));
                if (!(v instanceof Number) || ((Number) v).doubleValue() != pointValue(k)) {
                    wrong++;
                    if (firstWrong == null) firstWrong = seriesXid(s) + "@" + pointMs(k) + " -> " + v;
                }
            }
        }
        check(wrong == 0, "double_datapoints: every (series, timestamp, value) arrived exactly (" + wrong + " missing or wrong"
                + (firstWrong != null ? ", e.g. " + firstWrong : "") + ")");
        for (int k : new int[] {0, 4999, 5000, 9999}) {
            List<Object> dps = bySeries.get(seriesXid(k % SERIES));
            Object found = null;
            if (dps != null) for (Object o : dps) {
                Map<String, Object> p = (Map<String, Object>) o;
                if (num(p.get("timestamp")) == pointMs(k)) found = p;
            }
            boolean ok = found != null && ((Number) ((Map<String, Object>) found).get("value")).doubleValue() == pointValue(k);
            check(ok, "double_datapoints: point " + k + " of " + seriesXid(k % SERIES) + " at "
                    + Instant.ofEpochMilli(pointMs(k)) + " = " + pointValue(k) + ": " + (found == null ? "absent" : Json.write(found)));
        }
        Map<String, Object> st = endpointStats("POST /timeseries/data");
        long items = st == null ? -1 : num(st.get("items"));
        long maxItems = st == null ? -1 : num(st.get("max_items"));
        long requests = st == null ? -1 : num(st.get("requests"));
        check(items == DATAPOINTS, "stats POST /timeseries/data: " + items + " datapoints in " + requests + " requests (max "
                + maxItems + " per request), expected " + DATAPOINTS);
    }

    static long num(Object o) { return o instanceof Number ? ((Number) o).longValue() : -1; }

    static HttpResponse<String> http(String method, String path) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(EMULATOR + path))
                .method(method, HttpRequest.BodyPublishers.noBody()).build();
        return HTTP.send(req, HttpResponse.BodyHandlers.ofString());
    }

    @SuppressWarnings("unchecked")
    static List<Object> items(String resource) throws Exception {
        HttpResponse<String> r = http("GET", "/_admin/dump/" + PROJECT + "/" + resource);
        if (r.statusCode() != 200) throw new IllegalStateException("GET dump " + resource + ": HTTP " + r.statusCode() + " " + r.body());
        return (List<Object>) ((Map<String, Object>) Json.parse(r.body())).get("items");
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> endpointStats(String endpoint) throws Exception {
        HttpResponse<String> r = http("GET", "/_admin/stats");
        Map<String, Object> all = (Map<String, Object>) Json.parse(r.body());
        return (Map<String, Object>) ((Map<String, Object>) all.get("endpoints")).get(endpoint);
    }

    // ---- a minimal JSON reader/writer (no libraries besides pgjdbc on the class path) --------

    static final class Json {
        private final String s;
        private int i;

        private Json(String s) { this.s = s; }

        static Object parse(String text) {
            Json p = new Json(text);
            Object v = p.value();
            p.ws();
            if (p.i != p.s.length()) throw p.error("trailing characters");
            return v;
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("JSON: " + what + " at offset " + i);
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }

        private Object value() {
            ws();
            if (i >= s.length()) throw error("unexpected end");
            char c = s.charAt(i);
            switch (c) {
                case '{': {
                    i++;
                    Map<String, Object> m = new LinkedHashMap<>();
                    ws();
                    if (s.charAt(i) == '}') { i++; return m; }
                    while (true) {
                        ws();
                        String k = string();
                        ws();
                        if (s.charAt(i++) != ':') throw error("expected ':'");
                        m.put(k, value());
                        ws();
                        char d = s.charAt(i++);
                        if (d == '}') return m;
                        if (d != ',') throw error("expected ',' or '}'");
                    }
                }
                case '[': {
                    i++;
                    List<Object> l = new ArrayList<>();
                    ws();
                    if (s.charAt(i) == ']') { i++; return l; }
                    while (true) {
                        l.add(value());
                        ws();
                        char d = s.charAt(i++);
                        if (d == ']') return l;
                        if (d != ',') throw error("expected ',' or ']'");
                    }
                }
                case '"':
                    return string();
                case 't': i += 4; return Boolean.TRUE;
                case 'f': i += 5; return Boolean.FALSE;
                case 'n': i += 4; return null;
                default: {
                    int start = i;
                    while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
                    String n = s.substring(start, i);
                    if (n.isEmpty()) throw error("unexpected character '" + c + "'");
                    if (n.contains(".") || n.contains("e") || n.contains("E")) return Double.parseDouble(n);
                    try {
                        return Long.parseLong(n);
                    } catch (NumberFormatException e) {
                        return Double.parseDouble(n);
                    }
                }
            }
        }

        private String string() {
            if (s.charAt(i++) != '"') throw error("expected string");
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                if (c != '\\') { b.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': b.append('\n'); break;
                    case 't': b.append('\t'); break;
                    case 'r': b.append('\r'); break;
                    case 'b': b.append('\b'); break;
                    case 'f': b.append('\f'); break;
                    case 'u': b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
                    default: b.append(e);
                }
            }
        }

        @SuppressWarnings("unchecked")
        static String write(Object v) {
            if (v == null) return "null";
            if (v instanceof String) {
                StringBuilder b = new StringBuilder("\"");
                for (char c : ((String) v).toCharArray()) {
                    switch (c) {
                        case '"': b.append("\\\""); break;
                        case '\\': b.append("\\\\"); break;
                        case '\n': b.append("\\n"); break;
                        case '\r': b.append("\\r"); break;
                        case '\t': b.append("\\t"); break;
                        default:
                            if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                            else b.append(c);
                    }
                }
                return b.append('"').toString();
            }
            if (v instanceof Map) {
                StringBuilder b = new StringBuilder("{");
                for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
                    if (b.length() > 1) b.append(',');
                    b.append(write(e.getKey())).append(':').append(write(e.getValue()));
                }
                return b.append('}').toString();
            }
            if (v instanceof List) {
                StringBuilder b = new StringBuilder("[");
                for (Object o : (List<Object>) v) {
                    if (b.length() > 1) b.append(',');
                    b.append(write(o));
                }
                return b.append(']').toString();
            }
            return String.valueOf(v);
        }
    }
}
