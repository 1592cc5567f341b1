"""An OMOP CDM v5.4 database with the oncology extension read as the canonical patients table.

``omop_patients`` builds ONE ibis expression over an OMOP schema (DuckDB or PostgreSQL) with a
row per person: ``patient_id``, ``sex``, ``age_years``, ``histology``, ``treated_sites`` (text
joined by ';', as the loader reads it), ``rt_total_dose_gy``, ``rt_fractions``, ``regimen``,
and the dates the endpoints come from (``index_date``, ``death_date``, ``follow_up_end``) with
``rt_dose_unit`` (a dose unit that is neither Gy nor cGy, reported and never read as Gy).
``OMOP_READING`` then reads that table as the Data page reads a registry export: overall
survival is derived by ``cohort.endpoints.derive_endpoints`` (whole days from the index date,
death = event 1, censored at the end of the last observation period = 0) and the dates are
dropped. The full mapping, with the choices made where the oncology extension leaves them
open, is in docs/omop.md.

Where the concept ids come from (``CONCEPTS`` lists each with its vocabulary name):

- 8507 "MALE", 8532 "FEMALE" (Gender vocabulary): OMOP CDM v5.4, PERSON.gender_concept_id.
- 32528 "Disease First Occurrence", 32531 "Treatment Regimen" (Episode vocabulary): the
  oncology extension's EPISODE conventions (ohdsi.github.io/CommonDataModel/oncology.html:
  Disease Episode 32528-32530 and 32677, Treatment Episode 32531 "Treatment Regimen" and
  32532 "Treatment Cycle", 32533 is "Episode of Care", not a disease episode).
- 1147127 "condition_occurrence.condition_occurrence_id" (CDM vocabulary, Field class): the
  Oncology WG model and conventions pages and its NAACCR ETL.
- 1147082 "procedure_occurrence.procedure_occurrence_id" (CDM vocabulary, Field class): the
  Oncology WG's NAACCR ETL (episode_event and procedure modifiers). Its model page names
  1147084 for the same field, which the same ETL labels procedure_concept_id: both are
  accepted (``PROCEDURE_FIELD_CONCEPTS``), so either convention links.
- "episode.episode_id" (CDM vocabulary): no standard id could be verified (the Oncology WG's
  ETL writes a local placeholder, 1000000003, and its CDM patch creates a local concept). It
  is found by name in the instance's CONCEPT table; ``OmopSettings.episode_field_concepts``
  names it explicitly instead.
- Units by their UCUM code in the CONCEPT table (vocabulary UCUM, concept_code "Gy" / "cGy"),
  not by id.
- Radiotherapy episodes, total dose, number of fractions and treated volume: the oncology
  extension names these modifiers ('Total Dose', 'Number of Fractions', 'Radiation Primary
  Treatment Volume') but its radiotherapy conventions are still marked under construction,
  with no concept ids: they are matched by name (``ConceptMatch``) unless configured by id.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from cohort.endpoints import DateEndpoints, standard_rules
from cohort.io import ReadOptions

MALE, FEMALE = 8507, 8532
DISEASE_FIRST_OCCURRENCE = 32528
TREATMENT_REGIMEN = 32531
CONDITION_FIELD = 1147127
PROCEDURE_FIELD_CONCEPTS = (1147082, 1147084)
EPISODE_FIELD_NAME = "episode.episode_id"
GRAY_CODES = {"Gy": 1.0, "cGy": 0.01}

#: The concept ids used, with their OMOP vocabulary and name (see the module docstring).
CONCEPTS: dict[int, tuple[str, str]] = {
    MALE: ("Gender", "MALE"),
    FEMALE: ("Gender", "FEMALE"),
    DISEASE_FIRST_OCCURRENCE: ("Episode", "Disease First Occurrence"),
    TREATMENT_REGIMEN: ("Episode", "Treatment Regimen"),
    CONDITION_FIELD: ("CDM", "condition_occurrence.condition_occurrence_id"),
    1147082: ("CDM", "procedure_occurrence.procedure_occurrence_id"),
    1147084: ("CDM", "procedure_occurrence_id field as the Oncology WG model page names it"),
}

#: index_date choices: the first radiotherapy course's start, or the histology's diagnosis.
INDEX_CHOICES = ("first_radiotherapy", "diagnosis")
#: The columns of the expression besides the canonical ones.
DATE_COLUMNS = ("index_date", "death_date", "follow_up_end")
UNIT_COLUMN = "rt_dose_unit"
#: Joins the regimen names of one course (several drugs or regimen episodes).
REGIMEN_SEPARATOR = " + "
NO_REGIMEN = "none"

#: How the configured dataset's table is read: canonical columns as they are, OS from dates.
OMOP_READING = ReadOptions(
    mapping={c: c for c in ("patient_id", "sex", "age_years", "histology", "treated_sites",
                            "rt_total_dose_gy", "rt_fractions", "regimen")},
    time_unit=None,
    dates=DateEndpoints(time_zero="index_date", rules=standard_rules(death=True),
                        death="death_date", last_contact="follow_up_end"),
)


@dataclass(frozen=True)
class ConceptMatch:
    """Concepts by id, or else by a lower-case text their name contains (within a domain)."""

    ids: tuple[int, ...] = ()
    names: tuple[str, ...] = ()
    domain: str | None = None

    def matches(self, concept: ir.Table) -> ir.BooleanValue:
        """Whether a CONCEPT row is one of these (ids given: those ids only)."""
        if self.ids:
            return concept.concept_id.isin(self.ids)
        name = concept.concept_name.lower()
        found = ibis.or_(*(name.contains(text) for text in self.names))
        return found & (concept.domain_id == self.domain) if self.domain else found


@dataclass(frozen=True)
class OmopSettings:
    """Where the OMOP tables are and the choices the mapping leaves open."""

    schema: str = "main"
    index: str = "first_radiotherapy"
    radiotherapy: ConceptMatch = ConceptMatch(
        names=("radiotherapy", "radiation therapy", "external beam", "brachytherapy",
               "teleradiotherapy"), domain="Procedure")
    total_dose: ConceptMatch = ConceptMatch(names=("total dose",), domain="Measurement")
    fractions: ConceptMatch = ConceptMatch(names=("number of fractions",),
                                           domain="Measurement")
    treated_volume: ConceptMatch = ConceptMatch(names=("treatment volume",),
                                                domain="Measurement")
    episode_field_concepts: tuple[int, ...] = ()


class OmopTables:
    """The OMOP tables of one schema, and which measurement columns link modifiers (CDM v5.4
    ``measurement_event_id``/``meas_event_field_concept_id``, or the oncology extension's
    earlier ``modifier_of_event_id``/``modifier_of_field_concept_id``)."""

    NAMES = ("person", "death", "observation_period", "condition_occurrence", "episode",
             "episode_event", "procedure_occurrence", "measurement", "drug_exposure", "concept")
    LINKS = (("measurement_event_id", "meas_event_field_concept_id"),
             ("modifier_of_event_id", "modifier_of_field_concept_id"))

    def __init__(self, con: ibis.BaseBackend, schema: str):
        where = (con.current_catalog, schema)  # a DuckDB file named like the schema is no clash
        for name in self.NAMES:
            setattr(self, name, con.table(name, database=where))
        columns = self.measurement.columns
        link = next((pair for pair in self.LINKS if set(pair) <= set(columns)), None)
        if link is None:
            raise ValueError("the measurement table has neither measurement_event_id and "
                             "meas_event_field_concept_id nor modifier_of_event_id and "
                             "modifier_of_field_concept_id")
        self.event_id, self.event_field = link


def _first(table: ir.Table, by: str, *order: str) -> ir.Table:
    """The first row of each ``by`` group in ``order``."""
    rank = ibis.row_number().over(group_by=table[by], order_by=[table[c] for c in order])
    return table.mutate(_rank=rank).filter(lambda t: t._rank == 0).drop("_rank")


def _names(t: OmopTables) -> ir.Table:
    return t.concept.select(name_id=t.concept.concept_id, name=t.concept.concept_name)


def _radiotherapy_courses(t: OmopTables, settings: OmopSettings) -> ir.Table:
    """Each person's first radiotherapy Treatment Regimen episode (earliest start, then lowest
    episode_id): episode_id, person_id, rt_start, rt_end."""
    objects = t.concept.filter(settings.radiotherapy.matches(t.concept)).concept_id
    ep = t.episode
    courses = ep.filter((ep.episode_concept_id == TREATMENT_REGIMEN)
                        & ep.episode_object_concept_id.isin(objects))
    courses = courses.select(episode_id=courses.episode_id, person_id=courses.person_id,
                             rt_start=courses.episode_start_date,
                             rt_end=courses.episode_end_date.fill_null(
                                 courses.episode_start_date))
    return _first(courses, "person_id", "rt_start", "episode_id")


def _modifiers(t: OmopTables, settings: OmopSettings, courses: ir.Table) -> ir.Table:
    """Measurement rows modifying a course's episode, or a procedure_occurrence of the same
    person that episode_event links to the course: episode_id and the measurement's
    concept, value, value concept and unit."""
    m = t.measurement
    event, fld = m[t.event_id], m[t.event_field]
    if settings.episode_field_concepts:
        episode_field = fld.isin(settings.episode_field_concepts)
    else:
        c = t.concept
        episode_field = fld.isin(c.filter(c.concept_name.lower() == EPISODE_FIELD_NAME)
                                 .concept_id)
    values = dict(measurement_concept_id=m.measurement_concept_id,
                  value_as_number=m.value_as_number, value_as_concept_id=m.value_as_concept_id,
                  unit_concept_id=m.unit_concept_id)
    on_episode = courses.join(m, (event == courses.episode_id) & episode_field
                              & (m.person_id == courses.person_id))
    on_episode = on_episode.select(episode_id=courses.episode_id, **values)
    ee, po = t.episode_event, t.procedure_occurrence
    links = ee.filter(ee.episode_event_field_concept_id.isin(PROCEDURE_FIELD_CONCEPTS))
    procedures = courses.join(links, courses.episode_id == links.episode_id).join(
        po, (po.procedure_occurrence_id == links.event_id)
        & (po.person_id == courses.person_id))
    procedures = procedures.select(episode_id=courses.episode_id,
                                   procedure_id=po.procedure_occurrence_id)
    on_procedure = procedures.join(m, (event == procedures.procedure_id)
                                   & fld.isin(PROCEDURE_FIELD_CONCEPTS))
    on_procedure = on_procedure.select(episode_id=procedures.episode_id, **values)
    return on_episode.union(on_procedure, distinct=False)


def _course_doses(t: OmopTables, settings: OmopSettings, courses: ir.Table) -> ir.Table:
    """Per course: rt_total_dose_gy (the largest total dose recorded on it, cGy as Gy/100),
    rt_fractions (the largest number of fractions), rt_dose_unit (a unit code, or
    "(none)", of a dose in neither Gy nor cGy) and treated_sites."""
    mods = _modifiers(t, settings, courses)
    c = t.concept
    is_dose = mods.measurement_concept_id.isin(c.filter(settings.total_dose.matches(c))
                                               .concept_id)
    is_fractions = mods.measurement_concept_id.isin(c.filter(settings.fractions.matches(c))
                                                    .concept_id)
    is_volume = mods.measurement_concept_id.isin(c.filter(settings.treated_volume.matches(c))
                                                 .concept_id)
    ucum = c.filter(c.vocabulary_id == "UCUM").select(unit_id=c.concept_id,
                                                      unit_code=c.concept_code)
    mods = mods.left_join(ucum, mods.unit_concept_id == ucum.unit_id)
    factor = mods.unit_code.cases(*GRAY_CODES.items(), else_=ibis.null("float64"))
    dose = (mods.value_as_number.cast("float64") * factor)
    odd_unit = mods.value_as_number.notnull() & factor.isnull()
    doses = mods.group_by("episode_id").aggregate(
        rt_total_dose_gy=dose.max(where=is_dose),
        rt_fractions=mods.value_as_number.max(where=is_fractions).cast("int64"),
        rt_dose_unit=mods.unit_code.fill_null("(none)").min(where=is_dose & odd_unit),
    )
    names = _names(t)
    volumes = mods.filter(is_volume).join(names, mods.value_as_concept_id == names.name_id)
    volumes = volumes.select(episode_id=volumes.episode_id, site=volumes.name.lower()).distinct()
    sites = volumes.group_by("episode_id").aggregate(
        treated_sites=volumes.site.group_concat(";", order_by=volumes.site))
    return doses.outer_join(sites, doses.episode_id == sites.episode_id).select(
        episode_id=ibis.coalesce(doses.episode_id, sites.episode_id),
        rt_total_dose_gy=doses.rt_total_dose_gy, rt_fractions=doses.rt_fractions,
        rt_dose_unit=doses.rt_dose_unit, treated_sites=sites.treated_sites)


def _histology(t: OmopTables) -> ir.Table:
    """Per person: histology (the name of the condition_occurrence that episode_event links to
    a Disease First Occurrence episode, earliest first; else that episode's object concept)
    and diagnosis_date."""
    ep, ee, co = t.episode, t.episode_event, t.condition_occurrence
    disease = ep.filter(ep.episode_concept_id == DISEASE_FIRST_OCCURRENCE)
    links = ee.filter(ee.episode_event_field_concept_id == CONDITION_FIELD)
    linked = disease.join(links, disease.episode_id == links.episode_id).join(
        co, (co.condition_occurrence_id == links.event_id)
        & (co.person_id == disease.person_id))
    linked = linked.select(person_id=disease.person_id, priority=ibis.literal(0),
                           diagnosis_date=co.condition_start_date,
                           tie=co.condition_occurrence_id, concept_id=co.condition_concept_id)
    unlinked = disease.select(person_id=disease.person_id, priority=ibis.literal(1),
                              diagnosis_date=disease.episode_start_date,
                              tie=disease.episode_id,
                              concept_id=disease.episode_object_concept_id)
    first = _first(linked.union(unlinked, distinct=False), "person_id", "priority",
                   "diagnosis_date", "tie")
    names = _names(t)
    return first.left_join(names, first.concept_id == names.name_id).select(
        person_id=first.person_id, histology=names.name, diagnosis_date=first.diagnosis_date)


def _regimens(t: OmopTables, settings: OmopSettings, courses: ir.Table) -> ir.Table:
    """Per course: regimen, the names of the systemic Treatment Regimen episodes overlapping
    it, else of the drug_exposure rows starting within it, joined by " + " (sorted);
    "none" when there are neither."""
    ep, de = t.episode, t.drug_exposure
    rt_objects = t.concept.filter(settings.radiotherapy.matches(t.concept)).concept_id
    systemic = ep.filter((ep.episode_concept_id == TREATMENT_REGIMEN)
                         & ~ep.episode_object_concept_id.isin(rt_objects))
    overlapping = courses.join(systemic, (systemic.person_id == courses.person_id)
                               & (systemic.episode_start_date <= courses.rt_end)
                               & (systemic.episode_end_date.fill_null(
                                   systemic.episode_start_date) >= courses.rt_start))
    overlapping = overlapping.select(episode_id=courses.episode_id,
                                     concept_id=systemic.episode_object_concept_id)
    drugs = courses.join(de, (de.person_id == courses.person_id)
                         & (de.drug_exposure_start_date >= courses.rt_start)
                         & (de.drug_exposure_start_date <= courses.rt_end))
    drugs = drugs.select(episode_id=courses.episode_id, concept_id=de.drug_concept_id)
    names = _names(t)

    def joined(rows: ir.Table, column: str) -> ir.Table:
        named = rows.join(names, rows.concept_id == names.name_id).select(
            episode_id=rows.episode_id, name=names.name).distinct()
        return named.group_by("episode_id").aggregate(
            **{column: named.name.group_concat(REGIMEN_SEPARATOR, order_by=named.name)})

    episodes, exposures = joined(overlapping, "by_episode"), joined(drugs, "by_drug")
    per_course = courses.left_join(episodes, courses.episode_id == episodes.episode_id)
    per_course = per_course.left_join(exposures, courses.episode_id == exposures.episode_id)
    return per_course.select(episode_id=courses.episode_id, regimen=ibis.coalesce(
        episodes.by_episode, exposures.by_drug, ibis.literal(NO_REGIMEN)))


def _completed_years(born: ir.DateValue, on: ir.DateValue) -> ir.IntegerValue:
    """Whole years from ``born`` to ``on`` (a birthday not yet reached that year: one less)."""
    before_birthday = (on.month() < born.month()) | (
        (on.month() == born.month()) & (on.day() < born.day()))
    return on.year() - born.year() - ibis.ifelse(before_birthday, 1, 0)


def _birth_date(person: ir.Table) -> ir.DateValue:
    """birth_datetime's date; else year_of_birth with month_of_birth and day_of_birth, a missing
    day the 1st and a missing month 15 June (the CDM v5.4 convention for birth_datetime)."""
    month = person.month_of_birth
    day = ibis.ifelse(month.isnull(), 15, person.day_of_birth.fill_null(1))
    built = ibis.date(person.year_of_birth, month.fill_null(6), day)
    return ibis.coalesce(person.birth_datetime.date(), built)


def omop_patients(con: ibis.BaseBackend, settings: OmopSettings = OmopSettings()) -> ir.Table:
    """One row per person (ordered by person_id) with the canonical columns, the dates of the
    endpoints (``DATE_COLUMNS``) and ``rt_dose_unit``, as one ibis expression on ``con``."""
    if settings.index not in INDEX_CHOICES:
        raise ValueError(f"index: one of {', '.join(INDEX_CHOICES)}")
    t = OmopTables(con, settings.schema)
    courses = _radiotherapy_courses(t, settings)
    doses = _course_doses(t, settings, courses)
    regimens = _regimens(t, settings, courses)
    course = courses.left_join(doses, courses.episode_id == doses.episode_id).left_join(
        regimens, courses.episode_id == regimens.episode_id).select(
        person_id=courses.person_id, rt_start=courses.rt_start,
        rt_total_dose_gy=doses.rt_total_dose_gy, rt_fractions=doses.rt_fractions,
        rt_dose_unit=doses.rt_dose_unit, treated_sites=doses.treated_sites,
        regimen=regimens.regimen)
    histology = _histology(t)
    deaths = t.death.group_by("person_id").aggregate(death_date=t.death.death_date.min())
    op = t.observation_period
    follow = op.group_by("person_id").aggregate(
        follow_up_end=op.observation_period_end_date.max())
    p = t.person
    rows = (p.left_join(course, p.person_id == course.person_id)
            .left_join(histology, p.person_id == histology.person_id)
            .left_join(deaths, p.person_id == deaths.person_id)
            .left_join(follow, p.person_id == follow.person_id))
    index = course.rt_start if settings.index == "first_radiotherapy" else \
        histology.diagnosis_date
    sex = p.gender_concept_id.cases((MALE, "male"), (FEMALE, "female"), else_="unknown")
    return rows.select(
        patient_id=p.person_id.cast("string"), sex=sex,
        age_years=_completed_years(_birth_date(p), index).cast("float64"),
        histology=histology.histology, treated_sites=course.treated_sites,
        rt_total_dose_gy=course.rt_total_dose_gy, rt_fractions=course.rt_fractions,
        regimen=course.regimen, index_date=index, death_date=deaths.death_date,
        follow_up_end=follow.follow_up_end, rt_dose_unit=course.rt_dose_unit,
        _order=p.person_id,
    ).order_by("_order").drop("_order")
