-- The demo registry: docs/hosting/clinic_registry.csv as a department's table would hold it
-- (dates as dates, 'unknown' as NULL), and the app's read-only role (SELECT only).
CREATE SCHEMA oligomet;

-- The export as it comes (all text), loaded by initdb.sh.
CREATE TABLE oligomet.export (
    "MRN" text, "Arm" text, "Sex" text, "Age at diagnosis" text, "Positive nodes" text,
    "Treatment start" text, "Recurrence date" text, "Date of death or last contact" text,
    "Vital status" text
);

CREATE VIEW oligomet.typed_export AS
SELECT "MRN" AS mrn, "Arm" AS arm, "Sex" AS sex,
       NULLIF("Age at diagnosis", 'unknown')::integer AS age_at_diagnosis,
       NULLIF("Positive nodes", 'unknown')::integer AS positive_nodes,
       to_date(NULLIF("Treatment start", ''), 'DD.MM.YYYY') AS treatment_start,
       to_date(NULLIF("Recurrence date", ''), 'DD.MM.YYYY') AS recurrence_date,
       to_date(NULLIF("Date of death or last contact", ''), 'DD.MM.YYYY') AS death_or_last_contact,
       "Vital status" AS vital_status,
       now() AS updated_at
FROM oligomet.export;

CREATE TABLE oligomet.patients (
    mrn text PRIMARY KEY, arm text, sex text, age_at_diagnosis integer, positive_nodes integer,
    treatment_start date, recurrence_date date, death_or_last_contact date, vital_status text,
    updated_at timestamptz NOT NULL
);

CREATE ROLE oligomet_reader LOGIN PASSWORD :'reader_password';
GRANT USAGE ON SCHEMA oligomet TO oligomet_reader;
GRANT SELECT ON oligomet.patients TO oligomet_reader;
