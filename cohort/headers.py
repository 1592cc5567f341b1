"""What a registry's column headers say: the canonical column, the time unit, the date's role.

Headers are compared after ``header_key``: accents folded, lower case, letters and digits only
("Âge au diagnostic" -> "ageaudiagnostic"). English, German and French spellings are listed.
"""

from __future__ import annotations

import re
import unicodedata

#: Other spellings of canonical column names (as ``header_key`` gives them).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "patient_id": ("id", "patient", "patientid", "pid", "subject", "subjectid", "mrn", "caseid",
                   "patientnumber", "patientno", "patientennummer", "patientenid", "patnr",
                   "fallnummer", "idpatient", "numeropatient", "nopatient", "npatient", "ipp", "studyid"),
    "age_years": ("age", "ageyears", "ageatrt", "ageattreatment", "ageatdiagnosis", "agedx",
                  "ageatdx", "alter", "alterjahre", "alterbeidiagnose", "alterbeidiagnosestellung",
                  "alterbeibehandlung", "ageaudiagnostic", "agediagnostic", "ageans"),
    "sex": ("gender", "geschlecht", "sexe", "genre"),
    "histology": ("histo", "celltype", "primary", "primarytumor", "primarytumour", "tumortype",
                  "histologie", "typehistologique", "primartumor", "tumeurprimitive"),
    "treated_sites": ("site", "sites", "treatedsite", "rtsite", "rtsites", "targetsite",
                      "lokalisation", "bestrahlungsort", "sitetraite", "localisation"),
    "n_metastases": ("nmets", "metastases", "nummets", "numberofmetastases", "nlesions",
                     "anzahlmetastasen", "nombredemetastases", "nombremetastases"),
    "oligo_state": ("oligo", "oligostate", "oligostatus"),
    "ecog": ("ps", "ecogps", "performancestatus", "whops", "ecogstatus"),
    "rt_technique": ("technique", "rttechnique", "modality", "technik", "bestrahlungstechnik"),
    "rt_total_dose_gy": ("dose", "totaldose", "totaldosegy", "dosegy", "rtdose", "rtdosegy",
                         "gesamtdosis", "gesamtdosisgy", "dosetotale", "dosetotalegy"),
    "rt_fractions": ("fractions", "fx", "nfractions", "fractionsn", "nfx", "fraktionen",
                     "anzahlfraktionen", "nombredefractions"),
    "regimen": ("treatment", "systemic", "systemictherapy", "chemo", "drug", "arm", "horth",
                "treatmentarm", "studyarm", "behandlungsarm", "therapiearm", "bras",
                "systemtherapie", "traitementsystemique"),
    "drug_dose_mg": ("drugdose", "drugdosemg"),
    "dose_level": ("level", "doselevel"),
    "line_of_therapy": ("line", "therapyline", "lot", "therapielinie", "lignedetraitement"),
    "best_response": ("response", "bestresponse", "recist", "ansprechen", "reponse"),
    "os_months": ("os", "ostime", "survivaltime", "survtime", "time", "overallsurvival",
                  "uberleben", "gesamtuberleben", "uberlebenszeit", "survieglobale", "survie",
                  "dureedesurvie", "survival", "followup", "followuptime", "nachbeobachtung",
                  "suivi"),
    "os_event": ("osevent", "osstatus", "status", "dead", "death", "vitalstatus", "died",
                 "verstorben", "statutvital", "deces"),
    "pfs_months": ("pfs", "pfstime", "rfs", "rfstime", "dfs", "dfstime"),
    "pfs_event": ("pfsevent", "pfsstatus", "progression", "rfsevent", "rfsstatus", "dfsevent"),
    "lc_months": ("lc", "lctime", "localcontroltime", "localcontrol"),
    "lc_event": ("lcevent", "lcstatus", "localfailure"),
    "ttnt_months": ("ttnt", "ttnttime"),
    "ttnt_event": ("ttntevent", "ttntstatus"),
    "term": ("toxicity", "adverseevent", "ae", "ctcaeterm"),
    "grade": ("ctcaegrade", "toxgrade"),
    "phase": ("timing", "acutelate"),
    "onset_months": ("onset", "onsettime"),
}

#: Words a header may end with, naming the unit of a duration.
UNIT_WORDS: dict[str, tuple[str, ...]] = {
    "days": ("days", "day", "d", "tage", "tagen", "jours", "j"),
    "weeks": ("weeks", "week", "wk", "wks", "wochen", "semaines"),
    "months": ("months", "month", "mo", "mon", "mths", "monate", "monaten", "mois"),
    "years": ("years", "year", "yrs", "yr", "y", "jahre", "jahren", "ans", "annees"),
}

#: The role of a date column, from words in its header (first match wins, in this order).
DATE_ROLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("death_or_last_contact", re.compile(
        r"(death|died|deces|tod|sterbe).*(last|contact|follow|fu|kontakt|nouvelles)"
        r"|(last|contact|follow|kontakt).*(death|died|deces|tod)")),
    ("local_failure", re.compile(
        r"local(failure|recurrence|progression|relapse)|lokalrezidiv|lokalerprogress"
        r"|recidivelocale|echeclocal|lf(date)?$|^datelf|infield")),
    ("next_treatment", re.compile(
        r"next(line|treatment|therapy|systemic)|subsequent(therapy|treatment)|nextlot"
        r"|folgetherapie|nachstetherapie|traitementsuivant|ttnt")),
    ("progression", re.compile(
        r"progress|recurr|relapse|rezidiv|recidive|rechute|pd(date)?$|^datepd|distantfailure")),
    ("death", re.compile(r"death|died|deceased|dod$|^dod|tod(es)?datum|sterbe|deces")),
    ("last_contact", re.compile(
        r"last(contact|followup|fu|seen|visit|known|alive)|lastfollow|dateoflast|lfu$"
        r"|letzter(kontakt|nachsorge)|dernier(contact|nouvelles|suivi)|derniersnouvelles"
        r"|followupdate|datefu|censor")),
    ("rt_start", re.compile(
        r"(rt|radiotherapy|radiation|srt|sbrt|irradiation|bestrahlung|treatment|therapy|tx)"
        r"(start|begin)|start(rt|of|date|treatment|therapy)?|beginn|debut|datert$|rtdate")),
    ("rt_end", re.compile(r"(rt|radiotherapy|radiation|sbrt|bestrahlung|treatment)(end|stop)"
                          r"|end(rt|of|treatment)|fin(rt|de)")),
    ("diagnosis", re.compile(r"diagnos|dx|erstdiagnose|ed$")),
    ("registration", re.compile(r"regist|enrol|randomi|inclusion|einschluss|aufnahme")),
)

#: Header words of a vital-status column (dead/alive).
VITAL_STATUS = re.compile(r"^(vital)?status$|vital|alive|dead|died|verstorben|lebt|deces|vivant"
                          r"|statutvital|death$")

#: Values that mean "not recorded" in hand-made exports (compared stripped, lower case).
MISSING_CODES = ("unknown", "unk", "unkn", "n/a", "na", "n.a.", "-", "--", "not known", "nk",
                 "?", "missing", "not available", "unbekannt", "k.a.", "inconnu", "nr",
                 "not recorded", "none recorded", ".")


def header_key(name: str) -> str:
    """The header as compared: accents folded, lower case, letters and digits only."""
    folded = unicodedata.normalize("NFKD", name.replace("ß", "ss"))
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def _words(name: str) -> list[str]:
    return [key for word in re.split(r"[\W_]+", name) if (key := header_key(word))]


def _unit_of_word(word: str, whole_word: bool) -> str | None:
    for unit, spellings in UNIT_WORDS.items():
        if whole_word and word in spellings:
            return unit
        if any(word.endswith(s) and len(word) > len(s) for s in spellings if len(s) > 3):
            return unit
    return None


def unit_in_name(name: str) -> str | None:
    """The time unit a header names ("OS (days)", "os_months", "Überleben Monate", "osdays"),
    or None."""
    words = _words(name)
    if not words:
        return None
    return _unit_of_word(words[-1], whole_word=len(words) > 1)


def without_unit(name: str) -> str:
    """The header key without its unit word: "OS (days)" -> "os", "osmonths" -> "os"."""
    words = _words(name)
    if len(words) > 1 and _unit_of_word(words[-1], whole_word=True):
        return "".join(words[:-1])
    key = header_key(name)
    unit = _unit_of_word(key, whole_word=False)
    if unit is None:
        return key
    suffix = max((s for s in UNIT_WORDS[unit] if key.endswith(s) and len(s) > 3), key=len)
    return key[: -len(suffix)]


def date_role(name: str) -> str | None:
    """The role a date column's header suggests (see ``DATE_ROLES``), or None."""
    key = header_key(name)
    return next((role for role, pattern in DATE_ROLES if pattern.search(key)), None)
