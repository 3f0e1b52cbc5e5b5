SELECT "name" AS "name" FROM (SELECT "name", "n" FROM (SELECT 'a' AS "name", 1 AS "n" UNION ALL SELECT 'b' AS "name", 2 AS "n" UNION ALL SELECT 'c' AS "name", 3 AS "n") AS t1 WHERE ("n" >= 2)) AS t2
