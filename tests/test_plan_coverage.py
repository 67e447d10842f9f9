"""Every quantified target of the plan is in the KPI catalog, traceable to its verbatim clause."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from daxing_kpi.paths import SEEDS_DIR
from daxing_kpi.plan import plan_text, target_fragments, target_sentences
from daxing_kpi.plans.bundled import plan_targets

PLAN_14 = "daxing_civil_affairs_14th_fyp"  # the bundled plan whose text is seeds/plan/<plan_id>_part3.txt

# The KPIs the plan-coverage issue names (issue 3), with the plan section each comes from.
REQUIRED_KPIS = {
    "eldercare.care_workers_per_10k_elderly", "eldercare.nursing_bed_60pct_public_institutions",
    "eldercare.three_star_township_homes", "eldercare.care_centers_operating", "eldercare.care_center_town_coverage",
    "disability.intellectual_disability_institutions", "disability.mental_health_welfare_institutions",
    "children.institution_beds_per_10k_children", "community.secretary_studio_demo_sites",
    "community.building_governance_demo_sites", "community.direct_election_share",
    "community.lajiachang_council_coverage", "community.new_community_service_space_share",
    "community.villages_converted", "social_org.federation_town_coverage", "social_org.community_social_orgs",
    "social_work.agencies", "social_work.community_workers_local_share", "social_work.professionals",
    "social_work.certified_professionals", "volunteer.registered_share_of_residents", "volunteer.station_coverage",
    "funeral.township_cemetery_coverage", "funeral.eco_burial_rate", "psych.community_coverage",
    "psych.town_center_coverage", "charity.station_community_coverage", "digital.online_service_rate",
}


def catalog() -> pd.DataFrame:
    """The bundled plan's targets (seeds/plan_targets.csv) as text."""
    return plan_targets(PLAN_14).astype(object).fillna("").astype(str)


def uncovered(sentences: list[str], clauses: list[str]) -> list[str]:
    """Quantity-stating parts of target sentences that no catalog clause contains (nor lies within)."""
    return [f for s in sentences for f in target_fragments(s) if not any(c and (f in c or c in f) for c in clauses)]


def test_plan_text_is_joined_from_page_fragments():
    text = plan_text()
    assert not text.startswith("《")  # the site's header line is dropped
    # a sentence broken over a page fragment ("专业技\n5、术人才") is whole again
    assert "建立养老管理人才、专业技术人才常态化培训机制" in text


def test_every_target_sentence_is_covered_by_a_catalog_clause():
    sentences = target_sentences(plan_text(plan_id=PLAN_14))
    assert len(sentences) >= 20  # the plan sets about 28 targets in some 22 sentences
    missing = uncovered(sentences, catalog().source_clause_zh.tolist())
    assert missing == [], "plan targets without a catalog row:\n" + "\n".join(missing)


def test_every_clause_occurs_verbatim_in_the_plan():
    text = plan_text(plan_id=PLAN_14)
    cat = catalog()
    bad = cat[~cat.source_clause_zh.map(lambda c: bool(c) and c in text)]
    assert bad.empty, bad[["kpi_id", "source_clause_zh"]].to_string()


def test_catalog_holds_every_kpi_of_the_plan():
    cat = catalog()
    assert REQUIRED_KPIS <= set(cat.kpi_id)
    assert cat.kpi_id.is_unique
    # every KPI definition is measured for this plan, and every target of it has a definition
    definitions = pd.read_csv(SEEDS_DIR / "kpi_catalog.csv", dtype=str)
    assert set(definitions.kpi_id) == set(cat.kpi_id) and definitions.kpi_id.is_unique
    assert "plan_id" not in definitions and "target_value" not in definitions  # definitions only


def test_count_basis_follows_the_verb_of_the_clause():
    """Count targets (unit count): 建成/新建/改造/完成/打造 count what the period added, 达到/拥有/不少于 the stock;
    建成运营 N 家 (N in operation) is a stock, as the KPI's name 建成运营数 says."""
    cat = catalog().merge(pd.read_csv(SEEDS_DIR / "kpi_catalog.csv", dtype=str)[["kpi_id", "unit"]], on="kpi_id")
    counts = cat[cat.unit == "count"].set_index("kpi_id")
    assert (cat[cat.unit != "count"].count_basis == "").all()
    basis = counts.count_basis.to_dict()
    assert basis["community.villages_converted"] == "new_in_period"  # 完成130个村的“撤村建居”
    assert basis["community.secretary_studio_demo_sites"] == "new_in_period"  # 建成20个
    assert basis["community.building_governance_demo_sites"] == "new_in_period"  # 打造100个
    assert basis["eldercare.three_star_township_homes"] == "new_in_period"  # 改造成1所
    assert basis["social_org.community_social_orgs"] == "stock"  # 达到6000家
    assert basis["social_work.professionals"] == "stock"  # 总量不少于4000人
    assert basis["eldercare.nursing_bed_60pct_public_institutions"] == "stock"  # 至少有1所
    assert basis["eldercare.care_centers_operating"] == "stock"  # 建成运营镇(街)养老照料中心20家
    # 一(三)3 says 拥有1所 (have), 四(三)2 建成1所: the counting decision follows 拥有 of the section the KPI
    # is listed under (coord/status/count_basis.csv); planners should confirm
    assert basis["disability.mental_health_welfare_institutions"] == "stock"
    for kpi_id, row in counts.drop(index="disability.mental_health_welfare_institutions").iterrows():
        clause = row.source_clause_zh
        if row.count_basis == "new_in_period":
            assert re.search("建成|新建|改造|完成|打造", clause), kpi_id
        else:
            assert re.search("达到|拥有|有1所|不少于|建成运营", clause), kpi_id


def test_two_targets_in_one_sentence_need_two_rows():
    sentence = "到2025年,社会心理服务覆盖社区(村)比例不低于80%,镇街级社会心理服务中心(站)全覆盖。"
    assert target_fragments(sentence) == ["社会心理服务覆盖社区(村)比例不低于80%", "镇街级社会心理服务中心(站)全覆盖"]
    assert uncovered([sentence], ["到2025年,社会心理服务覆盖社区(村)比例不低于80%"]) == ["镇街级社会心理服务中心(站)全覆盖"]


@pytest.mark.parametrize("kpi_id", ["funeral.eco_burial_rate", "community.villages_converted", "children.institution_beds_per_10k_children"])
def test_removing_a_catalog_row_is_caught(kpi_id):
    cat = catalog()
    reduced = cat[cat.kpi_id != kpi_id]
    # only rows whose clause is shared by no other KPI leave a sentence uncovered
    clause = cat.set_index("kpi_id").source_clause_zh[kpi_id]
    if (reduced.source_clause_zh == clause).any():
        pytest.fail(f"{kpi_id} shares its clause; pick a KPI with its own sentence for this test")
    missing = uncovered(target_sentences(plan_text(plan_id=PLAN_14)), reduced.source_clause_zh.tolist())
    assert missing and all(m in clause or clause in m for m in missing)
