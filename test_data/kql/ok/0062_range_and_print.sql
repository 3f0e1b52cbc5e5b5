SELECT "x" AS "x", ("x" * 10) AS "y" FROM (SELECT unnest(kql_range_list(1, 5, 2)) AS "x") AS t1
