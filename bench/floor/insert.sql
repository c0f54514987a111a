INSERT INTO floor.ceiling (v) VALUES (1);
